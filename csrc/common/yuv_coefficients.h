// Fixed-point YUV -> RGB coefficients, derived exactly as reference.yuv_coefficients does.
#pragma once

#include <cstdint>
#include <string>

namespace se {

constexpr int kYuvFractionBits = 14;

enum class YuvMatrix : std::uint8_t { kBt601, kBt709 };

// "bt601" | "bt709"; anything else throws std::invalid_argument naming the allowed values.
YuvMatrix parse_yuv_matrix(const std::string& name);

struct YuvCoefficients {
  std::int32_t y_offset = 0;
  std::int32_t y_gain = 0;
  std::int32_t v_to_r = 0;
  std::int32_t u_to_g = 0;
  std::int32_t v_to_g = 0;
  std::int32_t u_to_b = 0;
};

YuvCoefficients yuv_coefficients(YuvMatrix matrix, bool full_range);

}  // namespace se
