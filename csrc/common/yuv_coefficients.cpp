// Mirrors reference.yuv_coefficients expression by expression (double precision, no FMA), and rounds like
// Python's round(): to nearest, ties to even (std::nearbyint in the default rounding mode).
#include "common/yuv_coefficients.h"

#include <cmath>
#include <stdexcept>

namespace se {

YuvMatrix parse_yuv_matrix(const std::string& name) {
  if (name == "bt601") return YuvMatrix::kBt601;
  if (name == "bt709") return YuvMatrix::kBt709;
  throw std::invalid_argument("`matrix`: expected one of 'bt601', 'bt709', got '" + name + "'");
}

YuvCoefficients yuv_coefficients(YuvMatrix matrix, bool full_range) {
  const double kr = matrix == YuvMatrix::kBt601 ? 0.299 : 0.2126;
  const double kb = matrix == YuvMatrix::kBt601 ? 0.114 : 0.0722;
  const double kg = 1.0 - kr - kb;
  const double y_gain = full_range ? 1.0 : 255.0 / 219.0;
  const double c_gain = full_range ? 1.0 : 255.0 / 224.0;
  const double one = static_cast<double>(1 << kYuvFractionBits);
  const auto fixed = [one](double value) { return static_cast<std::int32_t>(std::nearbyint(value * one)); };

  YuvCoefficients coef;
  coef.y_offset = full_range ? 0 : 16;
  coef.y_gain = fixed(y_gain);
  coef.v_to_r = fixed(c_gain * 2.0 * (1.0 - kr));
  coef.u_to_g = fixed(c_gain * 2.0 * kb * (1.0 - kb) / kg);
  coef.v_to_g = fixed(c_gain * 2.0 * kr * (1.0 - kr) / kg);
  coef.u_to_b = fixed(c_gain * 2.0 * (1.0 - kb));
  return coef;
}

}  // namespace se
