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

// (planes, height, width) float32 buffers, contiguous.
struct Planes {
  float* data;
  int64_t count;
  int64_t height;
  int64_t width;
};

void rows_pass_f32(const float* in, int64_t in_height, const Planes& out, const ResizeTaps& taps) {
  const int64_t width = out.width;
  const int64_t n_taps = taps.taps;
  parallel_for(out.count * out.height, grain_for(width * n_taps), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / out.height;
      const int64_t y = r % out.height;
      const float* src = in + plane * in_height * width;
      const std::int32_t* index = taps.index.data() + y * n_taps;
      const float* weight = taps.weight_f32.data() + y * n_taps;
      float* acc = out.data + r * width;
      for (int64_t x = 0; x < width; ++x) acc[x] = 0.0f;
      for (int64_t k = 0; k < n_taps; ++k) {
        const float* row = src + static_cast<int64_t>(index[k]) * width;
        const float w = weight[k];
        for (int64_t x = 0; x < width; ++x) acc[x] += w * row[x];
      }
    }
  });
}

void cols_pass_f32(const float* in, int64_t in_width, const Planes& out, const ResizeTaps& taps) {
  const int64_t n_taps = taps.taps;
  parallel_for(out.count * out.height, grain_for(out.width * n_taps), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = in + r * in_width;
      float* dst = out.data + r * out.width;
      for (int64_t x = 0; x < out.width; ++x) {
        const std::int32_t* index = taps.index.data() + x * n_taps;
        const float* weight = taps.weight_f32.data() + x * n_taps;
        float acc = 0.0f;
        for (int64_t k = 0; k < n_taps; ++k) acc += weight[k] * row[index[k]];
        dst[x] = acc;
      }
    }
  });
}

void halves_to_floats(const std::uint16_t* in, float* out, int64_t count) {
  parallel_for(count, 64 * 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = half_to_float(in[i]);
  });
}

void floats_to_halves(const float* in, std::uint16_t* out, int64_t count) {
  parallel_for(count, 64 * 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = float_to_half(in[i]);
  });
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
  const int64_t planes = src.planes();
  const bool half = src.dtype == DType::kFloat16;
  if (plan.passes.empty()) {
    std::memcpy(dst.data, src.data, static_cast<size_t>(planes * src.plane_size() * dtype_size(src.dtype)));
    return;
  }
  // fp16 is converted to float32 around the passes (exact one way, rounded once to nearest even the other).
  std::vector<float> converted;
  const float* current = static_cast<const float*>(src.data);
  if (half) {
    converted.resize(static_cast<size_t>(planes * src.plane_size()));
    halves_to_floats(static_cast<const std::uint16_t*>(src.data), converted.data(), planes * src.plane_size());
    current = converted.data();
  }
  int64_t height = src.height;
  int64_t width = src.width;
  std::vector<float> buffers[2];
  for (size_t i = 0; i < plan.passes.size(); ++i) {
    const ResizePass& pass = plan.passes[i];
    Planes out{nullptr, planes, pass.axis == 0 ? pass.taps->out_size : height,
               pass.axis == 1 ? pass.taps->out_size : width};
    const bool last = i + 1 == plan.passes.size();
    if (last && !half) {
      out.data = static_cast<float*>(dst.data);
    } else {
      buffers[i].resize(static_cast<size_t>(planes * out.height * out.width));
      out.data = buffers[i].data();
    }
    if (pass.axis == 0) {
      rows_pass_f32(current, height, out, *pass.taps);
    } else {
      cols_pass_f32(current, width, out, *pass.taps);
    }
    current = out.data;
    height = out.height;
    width = out.width;
  }
  if (half) floats_to_halves(current, static_cast<std::uint16_t*>(dst.data), planes * height * width);
}

}  // namespace se::cpu
