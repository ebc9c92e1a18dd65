// The interface between the fused SR driver (cpu/fused_sr.cpp: tiling, threads, scratch) and the per-ISA tile
// kernels (cpu/fused_sr_kernel.inc, compiled once portable and once for AVX2+FMA). Plain data only: the AVX2
// translation unit must not instantiate any inline library code that the portable one could end up using.
#pragma once

#include <cstdint>
#include <utility>  // std::integer_sequence, a type only

#include "common/fused_sr_net.h"

namespace se::cpu::fused_sr_detail {

// One tile: input rows [y0, y1) x columns [x0, x1), producing output rows [2 y0, 2 y1) x columns [2 x0, 2 x1).
struct TileJob {
  const std::uint8_t* src = nullptr;
  int64_t src_stride = 0;  // bytes between rows
  int src_channels = 3;    // 3 | 4 (alpha ignored)
  std::uint8_t* dst = nullptr;
  int64_t dst_stride = 0;
  int dst_channels = 3;  // 3 | 4 (alpha written as 255)
  int64_t height = 0;    // of the input frame
  int64_t width = 0;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  const float* weight[fused_sr::kLayers] = {};  // FusedSRNet::weight
  const float* bias[fused_sr::kLayers] = {};
  const float* unit = nullptr;  // float32(v) / 255 for v = 0..255, the network's input values
  // Line buffers: scratch_floats(x1 - x0) floats and scratch_doubles(x1 - x0) doubles. Their contents between
  // tiles do not matter (every value a tile's output depends on is written by the tile first).
  float* scratch = nullptr;
  double* dscratch = nullptr;
};

// Scratch a tile of `tile_width` input columns needs (line buffers of every layer).
int64_t scratch_floats(int64_t tile_width);
int64_t scratch_doubles(int64_t tile_width);

// cpu/fused_sr.cpp: the portable kernel.
void run_tile_generic(const TileJob& job);

// cpu/fused_sr_simd.cpp, compiled once per ISA. compiled(): whether the compiler took the ISA's flags (false on
// other architectures and compilers; run_tile then forwards to run_tile_generic).
namespace avx2 {
void run_tile(const TileJob& job);
bool compiled();
}  // namespace avx2
namespace avx512 {
void run_tile(const TileJob& job);
bool compiled();
}  // namespace avx512

}  // namespace se::cpu::fused_sr_detail
