// BGR(A) uint8 <-> RGB planar float, the first and last step of every frame.
#include <array>
#include <cstdint>

#include "cpu/half.h"
#include "cpu/parallel.h"
#include "ops.h"

namespace se::cpu {
namespace {

// float32(v) / 255 has only 256 possible values: a table is exact by construction (it is computed with the
// same IEEE division) and turns the unpack into loads and stores.
struct UnitTables {
  std::array<float, 256> f32{};
  std::array<std::uint16_t, 256> f16{};
  UnitTables() {
    for (int v = 0; v < 256; ++v) {
      f32[v] = static_cast<float>(v) / 255.0f;
      f16[v] = float_to_half(f32[v]);
    }
  }
};

const UnitTables& unit_tables() {
  static const UnitTables tables;
  return tables;
}

template <int C, class T>
void unpack_rows(const ConstImageView& src, T* planes, const T* table, int64_t y0, int64_t y1) {
  const int64_t width = src.width;
  const int64_t plane = src.height * width;
  for (int64_t y = y0; y < y1; ++y) {
    const std::uint8_t* in = src.row(y);
    T* r = planes + y * width;
    T* g = r + plane;
    T* b = g + plane;
    for (int64_t x = 0; x < width; ++x) {
      b[x] = table[in[x * C + 0]];
      g[x] = table[in[x * C + 1]];
      r[x] = table[in[x * C + 2]];
    }
  }
}

template <class T>
void unpack(const ConstImageView& src, T* planes, const T* table) {
  const int channels = src.channels;
  parallel_for(src.height, grain_for(src.width * 3), [&](int64_t y0, int64_t y1) {
    if (channels == 3) {
      unpack_rows<3>(src, planes, table, y0, y1);
    } else {
      unpack_rows<4>(src, planes, table, y0, y1);
    }
  });
}

// floor(clamp(v * 255 + 0.5, 0, 255)) in float32, no FMA (-ffp-contract=off). Written as two selects so that
// NaN (every comparison false) lands on 0 and +-inf on the bounds; after the clamp the truncating conversion
// is the floor and is always in range.
inline std::uint8_t to_u8(float v) {
  float s = v * 255.0f + 0.5f;
  s = s > 0.0f ? s : 0.0f;
  s = s < 255.0f ? s : 255.0f;
  return static_cast<std::uint8_t>(static_cast<std::int32_t>(s));
}

inline float load(const float* p, int64_t i) { return p[i]; }
inline float load(const std::uint16_t* p, int64_t i) { return half_to_float(p[i]); }

// Rows are converted in blocks: the three planes to uint8 first (plain contiguous loops gcc vectorises),
// then interleaved.
template <int C, bool kBase, class T>
void pack_rows(const T* planes, const T* base, const ImageView& dst, int64_t y0, int64_t y1) {
  constexpr int64_t kBlock = 256;
  const int64_t width = dst.width;
  const int64_t plane = dst.height * width;
  std::uint8_t rgb[3][kBlock];
  for (int64_t y = y0; y < y1; ++y) {
    std::uint8_t* out = dst.row(y);
    for (int64_t x0 = 0; x0 < width; x0 += kBlock) {
      const int64_t n = width - x0 < kBlock ? width - x0 : kBlock;
      for (int c = 0; c < 3; ++c) {
        const int64_t offset = c * plane + y * width + x0;
        const T* in = planes + offset;
        if constexpr (kBase) {
          const T* add = base + offset;
          for (int64_t x = 0; x < n; ++x) rgb[c][x] = to_u8(load(in, x) + load(add, x));
        } else {
          for (int64_t x = 0; x < n; ++x) rgb[c][x] = to_u8(load(in, x));
        }
      }
      std::uint8_t* px = out + x0 * C;
      for (int64_t x = 0; x < n; ++x) {
        px[x * C + 0] = rgb[2][x];
        px[x * C + 1] = rgb[1][x];
        px[x * C + 2] = rgb[0][x];
        if constexpr (C == 4) px[x * C + 3] = 255;
      }
    }
  }
}

template <class T>
void pack(const T* planes, const T* base, const ImageView& dst) {
  parallel_for(dst.height, grain_for(dst.width * 3), [&](int64_t y0, int64_t y1) {
    if (dst.channels == 3) {
      base ? pack_rows<3, true>(planes, base, dst, y0, y1) : pack_rows<3, false>(planes, base, dst, y0, y1);
    } else {
      base ? pack_rows<4, true>(planes, base, dst, y0, y1) : pack_rows<4, false>(planes, base, dst, y0, y1);
    }
  });
}

}  // namespace

void bgr_to_planar(const ConstImageView& src, const PlanarView& dst) {
  const UnitTables& tables = unit_tables();
  if (dst.dtype == DType::kFloat16) {
    unpack(src, static_cast<std::uint16_t*>(dst.data), tables.f16.data());
  } else {
    unpack(src, static_cast<float*>(dst.data), tables.f32.data());
  }
}

void planar_to_bgr(const ConstPlanarView& src, const ConstPlanarView* base, const ImageView& dst) {
  if (src.dtype == DType::kFloat16) {
    pack(static_cast<const std::uint16_t*>(src.data),
         base ? static_cast<const std::uint16_t*>(base->data) : nullptr, dst);
  } else {
    pack(static_cast<const float*>(src.data), base ? static_cast<const float*>(base->data) : nullptr, dst);
  }
}

}  // namespace se::cpu
