// Separable resize on the GPU: the host computes the taps (common/resize_taps.h), they are uploaded once per
// (device, in, out, method, antialias) and kept; each pass is one kernel, one thread per output element,
// summing its taps in order in double exactly like the CPU kernels (and the reference).
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "cuda/cuda_check.h"
#include "ops.h"

namespace se::cuda {
namespace {

// ------------------------------------------------------------------------------------------ device memory

// A stream-ordered allocation: cudaMallocAsync/cudaFreeAsync never synchronise the device, so temporaries in
// the per-frame path cost no stall. Devices without memory pools fall back to cudaMalloc + a stream sync.
class StreamBuffer {
 public:
  StreamBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    int device = 0;
    int pools = 0;
    SE_CUDA_CHECK(cudaGetDevice(&device));
    SE_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
    async_ = pools != 0;
    if (async_) {
      SE_CUDA_CHECK(cudaMallocAsync(&data_, bytes, stream_));
    } else {
      SE_CUDA_CHECK(cudaMalloc(&data_, bytes));
    }
  }
  ~StreamBuffer() {
    if (!data_) return;
    if (async_) {
      cudaFreeAsync(data_, stream_);
    } else {
      cudaStreamSynchronize(stream_);
      cudaFree(data_);
    }
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;

  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_;
  bool async_ = false;
};

// One dimension's taps on the device, packed in one allocation: weights (double), then indices.
struct DeviceTaps {
  const double* weight = nullptr;
  const std::int32_t* index = nullptr;
  int taps = 0;
};

std::vector<unsigned char> pack_taps(const ResizeTaps& t) {
  const size_t n = t.index.size();
  std::vector<unsigned char> bytes(n * (sizeof(double) + sizeof(std::int32_t)));
  std::memcpy(bytes.data(), t.weight.data(), n * sizeof(double));
  std::memcpy(bytes.data() + n * sizeof(double), t.index.data(), n * sizeof(std::int32_t));
  return bytes;
}

DeviceTaps view_taps(const void* base, const ResizeTaps& t) {
  const auto* bytes = static_cast<const unsigned char*>(base);
  DeviceTaps d;
  d.weight = reinterpret_cast<const double*>(bytes);
  d.index = reinterpret_cast<const std::int32_t*>(bytes + t.index.size() * sizeof(double));
  d.taps = static_cast<int>(t.taps);
  return d;
}

// Taps stay on the device for the life of the process: a live stream reuses the same few entries every
// frame. Filling an entry synchronises once (cudaMalloc/cudaMemcpy); beyond kMaxEntries (a sweep over many
// sizes) taps are uploaded per call with stream-ordered memory instead, so the cache never grows unbounded.
class TapsCache {
 public:
  static constexpr size_t kMaxEntries = 256;

  // Returns the cached device copy, or nullptr when the cache is full.
  const void* find_or_upload(int device, const ResizeTaps& t) {
    const Key key{device, t.in_size, t.out_size, t.method, t.antialias};
    std::lock_guard<std::mutex> lock(mutex_);
    const auto hit = entries_.find(key);
    if (hit != entries_.end()) return hit->second;
    if (entries_.size() >= kMaxEntries) return nullptr;
    void* data = nullptr;
    const std::vector<unsigned char> bytes = pack_taps(t);
    SE_CUDA_CHECK(cudaMalloc(&data, bytes.size()));
    const cudaError_t status = cudaMemcpy(data, bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
    if (status != cudaSuccess) cudaFree(data);
    SE_CUDA_CHECK(status);
    entries_.emplace(key, data);
    return data;
  }

 private:
  using Key = std::tuple<int, int64_t, int64_t, ResizeMethod, bool>;
  std::mutex mutex_;
  std::map<Key, void*> entries_;
};

TapsCache& taps_cache() {
  static TapsCache* cache = new TapsCache();  // never freed: device memory outlives static destruction order
  return *cache;
}

// The taps of one pass on the current device, plus the temporary that holds them when the cache is full.
struct PassTaps {
  DeviceTaps taps;
  std::unique_ptr<StreamBuffer> owned;
};

PassTaps device_taps(const ResizeTaps& t, int device, cudaStream_t stream) {
  PassTaps out;
  if (const void* cached = taps_cache().find_or_upload(device, t)) {
    out.taps = view_taps(cached, t);
    return out;
  }
  const std::vector<unsigned char> bytes = pack_taps(t);
  out.owned = std::make_unique<StreamBuffer>(bytes.size(), stream);
  // From pageable memory the copy is staged before the call returns, so `bytes` may go out of scope.
  SE_CUDA_CHECK(cudaMemcpyAsync(out.owned->get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice, stream));
  out.taps = view_taps(out.owned->get(), t);
  return out;
}

// ------------------------------------------------------------------------------------------ uint8 kernels

__device__ __forceinline__ std::uint8_t round_u8(double acc) {
  double t = __dadd_rn(acc, 0.5);
  t = t > 0.0 ? t : 0.0;
  t = t < 255.0 ? t : 255.0;
  return static_cast<std::uint8_t>(static_cast<int>(t));
}

// Along the height: thread (j, y) = element j of output row y; neighbouring threads read neighbouring bytes.
__global__ void rows_u8_kernel(const std::uint8_t* __restrict__ src, long long src_stride,
                               std::uint8_t* __restrict__ dst, long long dst_stride, int elements, int out_rows,
                               DeviceTaps t) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (j >= elements || y >= out_rows) return;
  const std::int32_t* index = t.index + static_cast<long long>(y) * t.taps;
  const double* weight = t.weight + static_cast<long long>(y) * t.taps;
  double acc = 0.0;
  for (int k = 0; k < t.taps; ++k) {
    acc = __dadd_rn(acc, __dmul_rn(weight[k], static_cast<double>(src[index[k] * src_stride + j])));
  }
  dst[y * dst_stride + j] = round_u8(acc);
}

// Along the width: thread (x, y) = output pixel x of row y, all channels.
template <int C>
__global__ void cols_u8_kernel(const std::uint8_t* __restrict__ src, long long src_stride,
                               std::uint8_t* __restrict__ dst, long long dst_stride, int out_cols, int rows,
                               DeviceTaps t) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= out_cols || y >= rows) return;
  const std::uint8_t* row = src + y * src_stride;
  const std::int32_t* index = t.index + static_cast<long long>(x) * t.taps;
  const double* weight = t.weight + static_cast<long long>(x) * t.taps;
  double acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 0.0;
  for (int k = 0; k < t.taps; ++k) {
    const std::uint8_t* px = row + static_cast<long long>(index[k]) * C;
    for (int c = 0; c < C; ++c) acc[c] = __dadd_rn(acc[c], __dmul_rn(weight[k], static_cast<double>(px[c])));
  }
  std::uint8_t* out = dst + y * dst_stride + static_cast<long long>(x) * C;
  for (int c = 0; c < C; ++c) out[c] = round_u8(acc[c]);
}

template <int C>
void launch_cols_u8(const ConstImageView& src, const ImageView& dst, const DeviceTaps& taps, cudaStream_t stream) {
  cols_u8_kernel<C><<<grid_2d(dst.width, dst.height), block_2d(), 0, stream>>>(
      src.data, src.row_stride, dst.data, dst.row_stride, static_cast<int>(dst.width), static_cast<int>(dst.height),
      taps);
}

void pass_u8(const ConstImageView& src, const ImageView& dst, const ResizePass& pass, cudaStream_t stream) {
  const PassTaps taps = device_taps(*pass.taps, dst.device, stream);
  if (pass.axis == 0) {
    const long long elements = src.width * src.channels;
    rows_u8_kernel<<<grid_2d(elements, dst.height), block_2d(), 0, stream>>>(
        src.data, src.row_stride, dst.data, dst.row_stride, static_cast<int>(elements), static_cast<int>(dst.height),
        taps.taps);
    SE_CUDA_CHECK_LAUNCH("rows_u8_kernel");
    return;
  }
  switch (src.channels) {
    case 1: launch_cols_u8<1>(src, dst, taps.taps, stream); break;
    case 2: launch_cols_u8<2>(src, dst, taps.taps, stream); break;
    case 3: launch_cols_u8<3>(src, dst, taps.taps, stream); break;
    default: launch_cols_u8<4>(src, dst, taps.taps, stream); break;
  }
  SE_CUDA_CHECK_LAUNCH("cols_u8_kernel");
}

// ------------------------------------------------------------------------------------------ float kernels

// Planes are read as double and the sum rounded once to the output type (double -> half directly, like
// the CPU's double_to_half: no intermediate float rounding).
__device__ __forceinline__ double load(const double* p) { return *p; }
__device__ __forceinline__ double load(const float* p) { return static_cast<double>(*p); }
__device__ __forceinline__ double load(const __half* p) { return static_cast<double>(__half2float(*p)); }
__device__ __forceinline__ void store(double* p, double v) { *p = v; }
__device__ __forceinline__ void store(float* p, double v) { *p = __double2float_rn(v); }
__device__ __forceinline__ void store(__half* p, double v) { *p = __double2half(v); }

// Planes (planes, height, width); z walks the planes (grid-stride, gridDim.z is capped at 65535).
template <class In, class Out>
__global__ void rows_f_kernel(const In* __restrict__ src, Out* __restrict__ dst, long long planes, int in_rows,
                              int out_rows, int width, DeviceTaps t) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= out_rows) return;
  const std::int32_t* index = t.index + static_cast<long long>(y) * t.taps;
  const double* weight = t.weight + static_cast<long long>(y) * t.taps;
  for (long long p = blockIdx.z; p < planes; p += gridDim.z) {
    const In* plane = src + p * in_rows * width;
    double acc = 0.0;
    for (int k = 0; k < t.taps; ++k) {
      acc = __dadd_rn(acc, __dmul_rn(weight[k], load(plane + static_cast<long long>(index[k]) * width + x)));
    }
    store(dst + (p * out_rows + y) * width + x, acc);
  }
}

template <class In, class Out>
__global__ void cols_f_kernel(const In* __restrict__ src, Out* __restrict__ dst, long long planes, int rows,
                              int in_cols, int out_cols, DeviceTaps t) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= out_cols || y >= rows) return;
  const std::int32_t* index = t.index + static_cast<long long>(x) * t.taps;
  const double* weight = t.weight + static_cast<long long>(x) * t.taps;
  for (long long p = blockIdx.z; p < planes; p += gridDim.z) {
    const In* row = src + (p * rows + y) * in_cols;
    double acc = 0.0;
    for (int k = 0; k < t.taps; ++k) acc = __dadd_rn(acc, __dmul_rn(weight[k], load(row + index[k])));
    store(dst + (p * rows + y) * out_cols + x, acc);
  }
}

template <class In, class Out>
void pass_f(const In* src, Out* dst, long long planes, long long in_h, long long in_w, const ResizePass& pass,
            int device, cudaStream_t stream) {
  const PassTaps taps = device_taps(*pass.taps, device, stream);
  const long long out = pass.taps->out_size;
  if (pass.axis == 0) {
    rows_f_kernel<In, Out><<<grid_2d(in_w, out, planes), block_2d(), 0, stream>>>(
        src, dst, planes, static_cast<int>(in_h), static_cast<int>(out), static_cast<int>(in_w), taps.taps);
    SE_CUDA_CHECK_LAUNCH("rows_f_kernel");
  } else {
    cols_f_kernel<In, Out><<<grid_2d(out, in_h, planes), block_2d(), 0, stream>>>(
        src, dst, planes, static_cast<int>(in_h), static_cast<int>(in_w), static_cast<int>(out), taps.taps);
    SE_CUDA_CHECK_LAUNCH("cols_f_kernel");
  }
}

// Both passes for element type T; the intermediate is double, as on the CPU.
template <class T>
void resize_planes(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan, cudaStream_t stream) {
  const long long planes = src.planes();
  const T* in = static_cast<const T*>(src.data);
  T* out = static_cast<T*>(dst.data);
  const ResizePass& first = plan.passes[0];
  if (plan.passes.size() == 1) {
    pass_f<T, T>(in, out, planes, src.height, src.width, first, dst.device, stream);
    return;
  }
  const long long mid_h = first.axis == 0 ? dst.height : src.height;
  const long long mid_w = first.axis == 0 ? src.width : dst.width;
  StreamBuffer mid(static_cast<size_t>(planes * mid_h * mid_w) * sizeof(double), stream);
  auto* mid_data = static_cast<double*>(mid.get());
  pass_f<T, double>(in, mid_data, planes, src.height, src.width, first, dst.device, stream);
  pass_f<double, T>(mid_data, out, planes, mid_h, mid_w, plan.passes[1], dst.device, stream);
}

}  // namespace

void resize(const ConstImageView& src, const ImageView& dst, const ResizePlan& plan, cudaStream_t stream) {
  DeviceGuard guard(dst.device);
  if (plan.passes.empty()) {
    SE_CUDA_CHECK(cudaMemcpy2DAsync(dst.data, static_cast<size_t>(dst.row_stride), src.data,
                                    static_cast<size_t>(src.row_stride), static_cast<size_t>(src.width * src.channels),
                                    static_cast<size_t>(src.height), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (plan.passes.size() == 1) {
    pass_u8(src, dst, plan.passes[0], stream);
    return;
  }
  // The intermediate holds uint8 values, already rounded after the first pass (MATLAB does the same).
  const bool rows_first = plan.passes[0].axis == 0;
  ImageView mid;
  mid.height = rows_first ? dst.height : src.height;
  mid.width = rows_first ? src.width : dst.width;
  mid.channels = src.channels;
  mid.row_stride = mid.width * mid.channels;
  mid.device = dst.device;
  StreamBuffer buffer(static_cast<size_t>(mid.height * mid.row_stride), stream);
  mid.data = static_cast<std::uint8_t*>(buffer.get());
  pass_u8(src, mid, plan.passes[0], stream);
  pass_u8(mid, dst, plan.passes[1], stream);
}

void resize(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan, cudaStream_t stream) {
  DeviceGuard guard(dst.device);
  if (plan.passes.empty()) {
    const size_t bytes = static_cast<size_t>(src.planes() * src.plane_size() * dtype_size(src.dtype));
    SE_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (src.dtype == DType::kFloat16) {
    resize_planes<__half>(src, dst, plan, stream);
  } else {
    resize_planes<float>(src, dst, plan, stream);
  }
}

}  // namespace se::cuda
