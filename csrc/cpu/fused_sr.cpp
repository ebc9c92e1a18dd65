// Fused SR on the CPU: splits the frame into tiles (bands of rows x columns) and runs them on the thread pool,
// each with its own cache-sized line buffers, on the fastest kernel the network was packed for (AVX-512, AVX2+FMA,
// or the portable one compiled here). Every output pixel is computed by the same arithmetic whichever tile holds
// it, so the result does not depend on the tiling or the thread count.
#include <array>
#include <cstdint>
#include <vector>

#include "cpu/fused_sr_tile.h"
#include "cpu/parallel.h"
#include "ops.h"

namespace se::cpu {
namespace fused_sr_detail {
namespace {

// Four floats / two doubles as GCC/Clang vector types: one SSE2 register on any x86-64 (NEON on ARM). No FMA
// there: a * b + c rounds twice (-ffp-contract=off), which only moves results by float rounding.
using V = float __attribute__((vector_size(16)));
using VD = double __attribute__((vector_size(16)));
constexpr int kBlockVectors = 2;  // 8 accumulators of the 16 SSE registers

inline V fmadd(V a, V b, V c) { return a * b + c; }
inline VD fmadd_pd(VD a, VD b, VD c) { return a * b + c; }

#include "cpu/fused_sr_kernel.inc"

}  // namespace

int64_t scratch_floats(int64_t tile_width) { return tile_scratch_floats(tile_width); }
int64_t scratch_doubles(int64_t tile_width) { return tile_scratch_doubles(tile_width); }
void run_tile_generic(const TileJob& job) { Tile(job).run(); }

}  // namespace fused_sr_detail

namespace {

using fused_sr_detail::TileJob;

// Tiles of up to 512 columns x 136 rows: the line buffers of a tile (about 0.5 MB) stay in a core's L2, and the
// recomputed halo costs about 2 % (columns) + 2.5 % (rows). Narrower or shorter tiles measured slower here.
// Smaller bands are used only to give every thread at least two tiles, which the pool then balances.
constexpr int64_t kMaxTileWidth = 512;
constexpr int64_t kMaxBandRows = 136;
constexpr int64_t kMinBandRows = 16;
constexpr int64_t kTilesPerThread = 2;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Tiling {
  int64_t bands, band_rows, columns, tile_width;
  int64_t count() const { return bands * columns; }
};

// Depends on the thread count, but the result does not: every output pixel is computed by the same
// arithmetic in whichever tile it falls.
Tiling tiling_for(int64_t height, int64_t width, int64_t threads) {
  Tiling t{};
  t.columns = ceil_div(width, kMaxTileWidth);
  t.tile_width = ceil_div(width, t.columns);
  const int64_t wanted = ceil_div(kTilesPerThread * threads, t.columns);
  const int64_t most = ceil_div(height, kMinBandRows);
  t.bands = ceil_div(height, kMaxBandRows);
  if (t.bands < wanted) t.bands = wanted < most ? wanted : most;
  t.band_rows = ceil_div(height, t.bands);
  return t;
}

// Per-thread line buffers, grown on demand and kept: a tile's buffers are larger than malloc's mmap threshold,
// and fresh pages on every tile would cost more than the tile's arithmetic near the frame's edges.
template <class T>
T* thread_scratch(int64_t count) {
  thread_local std::vector<T> scratch;
  if (static_cast<int64_t>(scratch.size()) < count) scratch.resize(static_cast<size_t>(count));
  return scratch.data();
}

// float32(v) / 255: the network's input values, exactly as bgr_to_planar computes them.
const float* unit_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> values{};
    for (int v = 0; v < 256; ++v) values[static_cast<size_t>(v)] = static_cast<float>(v) / 255.0f;
    return values;
  }();
  return table.data();
}

bool cpu_has(FusedIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == FusedIsa::kAvx2) return avx2;
  if (isa == FusedIsa::kAvx512) return avx2 && __builtin_cpu_supports("avx512f");
#endif
  return isa == FusedIsa::kGeneric;
}

}  // namespace

bool fused_sr_supported(FusedIsa isa) {
  static const bool avx2 = fused_sr_detail::avx2::compiled() && cpu_has(FusedIsa::kAvx2);
  static const bool avx512 = fused_sr_detail::avx512::compiled() && cpu_has(FusedIsa::kAvx512);
  switch (isa) {
    case FusedIsa::kAvx2: return avx2;
    case FusedIsa::kAvx512: return avx512;
    case FusedIsa::kGeneric: break;
  }
  return true;
}

FusedIsa fused_sr_best_isa() {
  for (const FusedIsa isa : {FusedIsa::kAvx512, FusedIsa::kAvx2}) {
    if (fused_sr_supported(isa)) return isa;
  }
  return FusedIsa::kGeneric;
}

void fused_sr(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst) {
  const Tiling tiling = tiling_for(src.height, src.width, get_num_threads());
  TileJob base;
  base.src = src.data;
  base.src_stride = src.row_stride;
  base.src_channels = src.channels;
  base.dst = dst.data;
  base.dst_stride = dst.row_stride;
  base.dst_channels = dst.channels;
  base.unit = unit_table();
  base.height = src.height;
  base.width = src.width;
  for (int l = 0; l < fused_sr::kLayers; ++l) {
    base.weight[l] = net.weight[static_cast<size_t>(l)].data();
    base.bias[l] = net.bias[static_cast<size_t>(l)].data();
  }
  // Packed for one ISA, run on the same machine (the binding checked support when packing).
  void (*run_tile)(const TileJob&) = fused_sr_detail::run_tile_generic;
  if (net.isa == FusedIsa::kAvx2 && fused_sr_supported(net.isa)) run_tile = fused_sr_detail::avx2::run_tile;
  if (net.isa == FusedIsa::kAvx512 && fused_sr_supported(net.isa)) run_tile = fused_sr_detail::avx512::run_tile;
  const int64_t floats = fused_sr_detail::scratch_floats(tiling.tile_width);
  const int64_t doubles = fused_sr_detail::scratch_doubles(tiling.tile_width);
  parallel_for(tiling.count(), 1, [&](int64_t begin, int64_t end) {
    TileJob job = base;
    job.scratch = thread_scratch<float>(floats);
    job.dscratch = thread_scratch<double>(doubles);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t band = item / tiling.columns;
      const int64_t column = item % tiling.columns;
      job.y0 = band * tiling.band_rows;
      job.y1 = job.y0 + tiling.band_rows < src.height ? job.y0 + tiling.band_rows : src.height;
      job.x0 = column * tiling.tile_width;
      job.x1 = job.x0 + tiling.tile_width < src.width ? job.x0 + tiling.tile_width : src.width;
      if (job.y0 >= job.y1 || job.x0 >= job.x1) continue;  // rounding can leave the last band or column empty
      run_tile(job);
    }
  });
}

}  // namespace se::cpu
