// 4:2:0 YUV -> BGR(A), 14-bit fixed point, nearest (2x2 block) chroma, as reference._yuv_to_bgr.
#include <cstdint>

#include "cpu/parallel.h"
#include "ops.h"

namespace se::cpu {
namespace {

constexpr std::int32_t kHalf = 1 << (kYuvFractionBits - 1);

// (acc + 2^13) >> 14 with an arithmetic shift (floor, also for negative sums), then clamp.
inline std::uint8_t finish(std::int32_t acc) {
  std::int32_t v = (acc + kHalf) >> kYuvFractionBits;
  v = v < 0 ? 0 : v;
  v = v > 255 ? 255 : v;
  return static_cast<std::uint8_t>(v);
}

template <int C>
void convert_rows(const ConstImageView& y_plane, const ConstImageView& u_plane, const ConstImageView& v_plane,
                  const YuvCoefficients& coef, const ImageView& dst, int64_t y0, int64_t y1) {
  const int64_t u_step = u_plane.channels;
  const int64_t v_step = v_plane.channels;
  for (int64_t y = y0; y < y1; ++y) {
    const std::uint8_t* luma = y_plane.row(y);
    const std::uint8_t* u_row = u_plane.row(y / 2);
    const std::uint8_t* v_row = v_plane.row(y / 2);
    std::uint8_t* out = dst.row(y);
    for (int64_t x = 0; x < dst.width; ++x) {
      const std::int32_t u = static_cast<std::int32_t>(u_row[(x / 2) * u_step]) - 128;
      const std::int32_t v = static_cast<std::int32_t>(v_row[(x / 2) * v_step]) - 128;
      const std::int32_t l = (static_cast<std::int32_t>(luma[x]) - coef.y_offset) * coef.y_gain;
      out[x * C + 0] = finish(l + coef.u_to_b * u);
      out[x * C + 1] = finish(l - coef.u_to_g * u - coef.v_to_g * v);
      out[x * C + 2] = finish(l + coef.v_to_r * v);
      if constexpr (C == 4) out[x * C + 3] = 255;
    }
  }
}

}  // namespace

void yuv420_to_bgr(const ConstImageView& y, const ConstImageView& u, const ConstImageView& v,
                   const YuvCoefficients& coef, const ImageView& dst) {
  parallel_for(dst.height, grain_for(dst.width * 3), [&](int64_t y0, int64_t y1) {
    if (dst.channels == 3) {
      convert_rows<3>(y, u, v, coef, dst, y0, y1);
    } else {
      convert_rows<4>(y, u, v, coef, dst, y0, y1);
    }
  });
}

}  // namespace se::cpu
