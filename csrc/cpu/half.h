// IEEE binary16 <-> binary32 in portable C++ (no F16C: the module must run on any x86-64).
#pragma once

#include <cstdint>
#include <cstring>

namespace se::cpu {

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Exact. Subnormal halves are rebuilt with an int->float conversion rather than a float multiply, so the
// result does not depend on the caller's denormals-are-zero mode (torch.set_flush_denormal).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t magnitude = h & 0x7fffu;
  float value;
  if (magnitude >= 0x7c00u) {  // inf / NaN: keep the payload
    value = bits_float(0x7f800000u | ((magnitude & 0x3ffu) << 13));
  } else if (magnitude >= 0x0400u) {  // normal: rebias the exponent (15 -> 127)
    value = bits_float((magnitude << 13) + ((127u - 15u) << 23));
  } else {  // zero / subnormal: magnitude * 2^-24, exact in float32
    value = static_cast<float>(magnitude) * 0x1p-24f;
  }
  return bits_float(float_bits(value) | sign);
}

// Round to nearest, ties to even, overflow to inf, NaN stays NaN (quiet).
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Below 2^-14 the result is subnormal (or zero): its unit is 2^-24. Round the integer number of units
    // by hand (exact integer arithmetic, independent of the FPU rounding and denormal modes).
    const std::uint32_t exponent = x >> 23;
    if (exponent < 102) return sign;  // < 2^-25: rounds to zero (2^-25 itself is a tie, to even 0 too)
    const std::uint32_t mantissa = (x & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;  // value = mantissa * 2^(exponent - 150); unit 2^-24
    std::uint32_t units = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t half_unit = 1u << (shift - 1u);
    if (rest > half_unit || (rest == half_unit && (units & 1u))) ++units;
    return static_cast<std::uint16_t>(sign | units);
  }
  // Normal: rebias, then round the 13 dropped bits to nearest even (a carry may bump the exponent, and
  // up to inf, which is the correct rounding).
  const std::uint32_t odd = (x >> 13) & 1u;
  x += ((15u - 127u) << 23) + 0xfffu + odd;
  return static_cast<std::uint16_t>(sign | (x >> 13));
}

// Round to nearest, ties to even, directly from double (not through float, which could round twice).
inline std::uint16_t double_to_half(double d) {
  std::uint64_t x;
  std::memcpy(&x, &d, sizeof x);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 48) & 0x8000u);
  x &= 0x7fffffffffffffffull;
  if (x >= 0x7ff0000000000000ull) {  // inf / NaN
    return static_cast<std::uint16_t>(sign | (x > 0x7ff0000000000000ull ? 0x7e00u : 0x7c00u));
  }
  if (x >= 0x40effe0000000000ull) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  const std::uint64_t exponent = x >> 52;
  if (exponent < 1009) {  // below 2^-14: subnormal half, unit 2^-24 (same scheme as float_to_half)
    if (exponent < 998) return sign;  // < 2^-25
    const std::uint64_t mantissa = (x & 0xfffffffffffffull) | 0x10000000000000ull;
    const std::uint64_t shift = 1051 - exponent;  // value = mantissa * 2^(exponent - 1075); unit 2^-24
    std::uint64_t units = mantissa >> shift;
    const std::uint64_t rest = mantissa & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half_unit = std::uint64_t{1} << (shift - 1);
    if (rest > half_unit || (rest == half_unit && (units & 1u))) ++units;
    return static_cast<std::uint16_t>(sign | units);
  }
  const std::uint64_t odd = (x >> 42) & 1u;
  x += ((std::uint64_t{15} - 1023u) << 52) + ((std::uint64_t{1} << 41) - 1u) + odd;
  return static_cast<std::uint16_t>(sign | (x >> 42));
}

}  // namespace se::cpu
