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

// Rows are converted in blocks of kBlock pixels: the chroma terms once per chroma sample, widened to one per
// pixel, then plain contiguous integer loops (vectorised) produce B, G and R, which are finally interleaved.
// G = luma - (u_to_g * u + v_to_g * v) equals the reference's (luma - u_to_g * u) - v_to_g * v exactly: every
// partial sum fits easily in int32.
constexpr int64_t kBlock = 256;

template <int C>
void convert_rows(const ConstImageView& y_plane, const ConstImageView& u_plane, const ConstImageView& v_plane,
                  const YuvCoefficients& coef, const ImageView& dst, int64_t y0, int64_t y1) {
  const int64_t u_step = u_plane.channels;
  const int64_t v_step = v_plane.channels;
  std::int32_t r_term[kBlock], g_term[kBlock], b_term[kBlock];
  std::uint8_t bgr[3][kBlock];
  for (int64_t y = y0; y < y1; ++y) {
    const std::uint8_t* u_row = u_plane.row(y / 2);
    const std::uint8_t* v_row = v_plane.row(y / 2);
    for (int64_t x0 = 0; x0 < dst.width; x0 += kBlock) {
      const int64_t n = dst.width - x0 < kBlock ? dst.width - x0 : kBlock;  // x0 is even: blocks own whole pairs
      for (int64_t x = 0; x < n; x += 2) {
        const int64_t chroma = (x0 + x) / 2;
        const std::int32_t u = static_cast<std::int32_t>(u_row[chroma * u_step]) - 128;
        const std::int32_t v = static_cast<std::int32_t>(v_row[chroma * v_step]) - 128;
        r_term[x] = r_term[x + 1] = coef.v_to_r * v;
        g_term[x] = g_term[x + 1] = coef.u_to_g * u + coef.v_to_g * v;
        b_term[x] = b_term[x + 1] = coef.u_to_b * u;
      }
      const std::uint8_t* luma = y_plane.row(y) + x0;
      for (int64_t x = 0; x < n; ++x) {
        const std::int32_t l = (static_cast<std::int32_t>(luma[x]) - coef.y_offset) * coef.y_gain;
        bgr[0][x] = finish(l + b_term[x]);
        bgr[1][x] = finish(l - g_term[x]);
        bgr[2][x] = finish(l + r_term[x]);
      }
      std::uint8_t* out = dst.row(y) + x0 * C;
      for (int64_t x = 0; x < n; ++x) {
        out[x * C + 0] = bgr[0][x];
        out[x * C + 1] = bgr[1][x];
        out[x * C + 2] = bgr[2][x];
        if constexpr (C == 4) out[x * C + 3] = 255;
      }
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
