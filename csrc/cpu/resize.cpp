// Separable resize with precomputed taps (common/resize_taps.h). Every output element is a sum over its taps
// in tap order starting from zero; only the loops around that sum differ between the passes.
#include <cstring>
#include <vector>

#include "cpu/half.h"
#include "cpu/parallel.h"
#include "ops.h"

namespace se::cpu {
namespace {

// reference: floor(clip(acc + 0.5, 0, 255)), after each pass of a uint8 resize.
inline std::uint8_t round_u8(double acc) {
  double t = acc + 0.5;
  t = t > 0.0 ? t : 0.0;
  t = t < 255.0 ? t : 255.0;
  return static_cast<std::uint8_t>(static_cast<std::int32_t>(t));
}

// ------------------------------------------------------------------------------------------ uint8 images

// Along the height: output row y mixes whole input rows, so the inner loop runs over the contiguous
// width * channels elements of a row (vectorised) with one weight per row.
void rows_pass_u8(const ConstImageView& src, const ImageView& dst, const ResizeTaps& taps) {
  const int64_t elements = src.width * src.channels;
  const int64_t n_taps = taps.taps;
  parallel_for(dst.height, grain_for(elements * n_taps), [&](int64_t y0, int64_t y1) {
    std::vector<double> acc(static_cast<size_t>(elements));
    double* a = acc.data();
    for (int64_t y = y0; y < y1; ++y) {
      const std::int32_t* index = taps.index.data() + y * n_taps;
      const double* weight = taps.weight.data() + y * n_taps;
      for (int64_t j = 0; j < elements; ++j) a[j] = 0.0;
      for (int64_t k = 0; k < n_taps; ++k) {
        const std::uint8_t* in = src.row(index[k]);
        const double w = weight[k];
        for (int64_t j = 0; j < elements; ++j) a[j] += w * static_cast<double>(in[j]);
      }
      std::uint8_t* out = dst.row(y);
      for (int64_t j = 0; j < elements; ++j) out[j] = round_u8(a[j]);
    }
  });
}

// Along the width: each output pixel gathers its own input pixels; C is a template argument so the channel
// loop unrolls.
template <int C>
void cols_row_u8(const std::uint8_t* in, std::uint8_t* out, const ResizeTaps& taps) {
  const int64_t n_taps = taps.taps;
  for (int64_t x = 0; x < taps.out_size; ++x) {
    const std::int32_t* index = taps.index.data() + x * n_taps;
    const double* weight = taps.weight.data() + x * n_taps;
    double acc[C] = {};
    for (int64_t k = 0; k < n_taps; ++k) {
      const std::uint8_t* px = in + static_cast<int64_t>(index[k]) * C;
      const double w = weight[k];
      for (int c = 0; c < C; ++c) acc[c] += w * static_cast<double>(px[c]);
    }
    for (int c = 0; c < C; ++c) out[x * C + c] = round_u8(acc[c]);
  }
}

void cols_pass_u8(const ConstImageView& src, const ImageView& dst, const ResizeTaps& taps) {
  parallel_for(dst.height, grain_for(dst.width * dst.channels * taps.taps), [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      switch (src.channels) {
        case 1: cols_row_u8<1>(src.row(y), dst.row(y), taps); break;
        case 2: cols_row_u8<2>(src.row(y), dst.row(y), taps); break;
        case 3: cols_row_u8<3>(src.row(y), dst.row(y), taps); break;
        default: cols_row_u8<4>(src.row(y), dst.row(y), taps); break;
      }
    }
  });
}

void pass_u8(const ConstImageView& src, const ImageView& dst, const ResizePass& pass) {
  if (pass.axis == 0) {
    rows_pass_u8(src, dst, *pass.taps);
  } else {
    cols_pass_u8(src, dst, *pass.taps);
  }
}

// ------------------------------------------------------------------------------------------ float planes
// Summed in double with the double weights, no rounding between the passes, one rounding to the output
// dtype at the end: exactly reference.resize (float64 throughout, astype at the end).

inline double to_double(float v) { return static_cast<double>(v); }
inline double to_double(double v) { return v; }
inline double to_double(std::uint16_t h) { return static_cast<double>(half_to_float(h)); }

template <class T>
T from_double(double v);
template <>
inline double from_double<double>(double v) { return v; }
template <>
inline float from_double<float>(double v) { return static_cast<float>(v); }
template <>
inline std::uint16_t from_double<std::uint16_t>(double v) { return double_to_half(v); }

// (planes, height, width), contiguous.
template <class T>
struct Planes {
  T* data;
  int64_t count;
  int64_t height;
  int64_t width;
};

// Along the height: output row y of a plane mixes whole input rows (contiguous inner loop).
template <class In, class Out>
void rows_pass_planes(const Planes<const In>& in, const Planes<Out>& out, const ResizeTaps& taps) {
  const int64_t width = out.width;
  const int64_t n_taps = taps.taps;
  parallel_for(out.count * out.height, grain_for(width * n_taps), [&](int64_t r0, int64_t r1) {
    std::vector<double> acc(static_cast<size_t>(width));
    double* a = acc.data();
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / out.height;
      const int64_t y = r % out.height;
      const In* src = in.data + plane * in.height * width;
      const std::int32_t* index = taps.index.data() + y * n_taps;
      const double* weight = taps.weight.data() + y * n_taps;
      for (int64_t x = 0; x < width; ++x) a[x] = 0.0;
      for (int64_t k = 0; k < n_taps; ++k) {
        const In* row = src + static_cast<int64_t>(index[k]) * width;
        const double w = weight[k];
        for (int64_t x = 0; x < width; ++x) a[x] += w * to_double(row[x]);
      }
      Out* dst = out.data + r * width;
      for (int64_t x = 0; x < width; ++x) dst[x] = from_double<Out>(a[x]);
    }
  });
}

// Along the width: each output element gathers its taps from its own row.
template <class In, class Out>
void cols_pass_planes(const Planes<const In>& in, const Planes<Out>& out, const ResizeTaps& taps) {
  const int64_t n_taps = taps.taps;
  parallel_for(out.count * out.height, grain_for(out.width * n_taps), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const In* row = in.data + r * in.width;
      Out* dst = out.data + r * out.width;
      for (int64_t x = 0; x < out.width; ++x) {
        const std::int32_t* index = taps.index.data() + x * n_taps;
        const double* weight = taps.weight.data() + x * n_taps;
        double acc = 0.0;
        for (int64_t k = 0; k < n_taps; ++k) acc += weight[k] * to_double(row[index[k]]);
        dst[x] = from_double<Out>(acc);
      }
    }
  });
}

template <class In, class Out>
void pass_planes(const Planes<const In>& in, const Planes<Out>& out, const ResizePass& pass) {
  if (pass.axis == 0) {
    rows_pass_planes(in, out, *pass.taps);
  } else {
    cols_pass_planes(in, out, *pass.taps);
  }
}

// Element type T: float or std::uint16_t (float16 bits). The intermediate between the passes is double.
template <class T>
void resize_planes(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan) {
  const Planes<const T> in{static_cast<const T*>(src.data), src.planes(), src.height, src.width};
  const Planes<T> out{static_cast<T*>(dst.data), dst.planes(), dst.height, dst.width};
  if (plan.passes.size() == 1) {
    pass_planes(in, out, plan.passes[0]);
    return;
  }
  const bool rows_first = plan.passes[0].axis == 0;
  std::vector<double> buffer;
  Planes<double> mid{nullptr, in.count, rows_first ? out.height : in.height, rows_first ? in.width : out.width};
  buffer.resize(static_cast<size_t>(mid.count * mid.height * mid.width));
  mid.data = buffer.data();
  pass_planes(in, mid, plan.passes[0]);
  pass_planes(Planes<const double>{mid.data, mid.count, mid.height, mid.width}, out, plan.passes[1]);
}

}  // namespace

void resize(const ConstImageView& src, const ImageView& dst, const ResizePlan& plan) {
  if (plan.passes.empty()) {
    const size_t row_bytes = static_cast<size_t>(src.width * src.channels);
    for (int64_t y = 0; y < src.height; ++y) std::memcpy(dst.row(y), src.row(y), row_bytes);
    return;
  }
  if (plan.passes.size() == 1) {
    pass_u8(src, dst, plan.passes[0]);
    return;
  }
  // Intermediate image after the first pass; values are already rounded to uint8, as the reference's are.
  const bool rows_first = plan.passes[0].axis == 0;
  ImageView mid;
  mid.height = rows_first ? dst.height : src.height;
  mid.width = rows_first ? src.width : dst.width;
  mid.channels = src.channels;
  mid.row_stride = mid.width * mid.channels;
  std::vector<std::uint8_t> buffer(static_cast<size_t>(mid.height * mid.row_stride));
  mid.data = buffer.data();
  pass_u8(src, mid, plan.passes[0]);
  pass_u8(mid, dst, plan.passes[1]);
}

void resize(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan) {
  if (plan.passes.empty()) {
    std::memcpy(dst.data, src.data, static_cast<size_t>(src.planes() * src.plane_size() * dtype_size(src.dtype)));
    return;
  }
  if (src.dtype == DType::kFloat16) {
    resize_planes<std::uint16_t>(src, dst, plan);
  } else {
    resize_planes<float>(src, dst, plan);
  }
}

}  // namespace se::cpu
