// BGR(A) uint8 <-> RGB planar float on the GPU: one thread per pixel, a 2-D grid over (x, y). Arithmetic
// uses the explicit round-to-nearest intrinsics (and --fmad=false), so results equal the CPU kernels'.
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/cuda_check.h"
#include "ops.h"

namespace se::cuda {
namespace {

__device__ __forceinline__ float unit(std::uint8_t v) { return __fdiv_rn(static_cast<float>(v), 255.0f); }

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }

template <int C, class T>
__global__ void bgr_to_planar_kernel(const std::uint8_t* __restrict__ src, long long src_stride, T* __restrict__ dst,
                                     int height, int width) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const std::uint8_t* px = src + y * src_stride + static_cast<long long>(x) * C;
  const long long plane = static_cast<long long>(height) * width;
  T* out = dst + static_cast<long long>(y) * width + x;
  store(out, unit(px[2]));
  store(out + plane, unit(px[1]));
  store(out + 2 * plane, unit(px[0]));
}

// floor(clamp(v * 255 + 0.5, 0, 255)); the selects send NaN to 0 (every comparison with NaN is false).
__device__ __forceinline__ std::uint8_t to_u8(float v) {
  float s = __fadd_rn(__fmul_rn(v, 255.0f), 0.5f);
  s = s > 0.0f ? s : 0.0f;
  s = s < 255.0f ? s : 255.0f;
  return static_cast<std::uint8_t>(static_cast<int>(s));
}

template <int C, bool kBase, class T>
__global__ void planar_to_bgr_kernel(const T* __restrict__ src, const T* __restrict__ base,
                                     std::uint8_t* __restrict__ dst, long long dst_stride, int height, int width) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const long long plane = static_cast<long long>(height) * width;
  const long long i = static_cast<long long>(y) * width + x;
  float rgb[3];
  for (int c = 0; c < 3; ++c) {
    rgb[c] = load(src + c * plane + i);
    if (kBase) rgb[c] = __fadd_rn(rgb[c], load(base + c * plane + i));
  }
  std::uint8_t* px = dst + y * dst_stride + static_cast<long long>(x) * C;
  px[0] = to_u8(rgb[2]);
  px[1] = to_u8(rgb[1]);
  px[2] = to_u8(rgb[0]);
  if (C == 4) px[C - 1] = 255;
}

template <class T>
void launch_unpack(const ConstImageView& src, T* dst, cudaStream_t stream) {
  const dim3 grid = grid_2d(src.width, src.height);
  const int h = static_cast<int>(src.height);
  const int w = static_cast<int>(src.width);
  if (src.channels == 3) {
    bgr_to_planar_kernel<3, T><<<grid, block_2d(), 0, stream>>>(src.data, src.row_stride, dst, h, w);
  } else {
    bgr_to_planar_kernel<4, T><<<grid, block_2d(), 0, stream>>>(src.data, src.row_stride, dst, h, w);
  }
}

template <int C, class T>
void launch_pack(const T* src, const T* base, const ImageView& dst, cudaStream_t stream) {
  const dim3 grid = grid_2d(dst.width, dst.height);
  const int h = static_cast<int>(dst.height);
  const int w = static_cast<int>(dst.width);
  if (base) {
    planar_to_bgr_kernel<C, true, T><<<grid, block_2d(), 0, stream>>>(src, base, dst.data, dst.row_stride, h, w);
  } else {
    planar_to_bgr_kernel<C, false, T><<<grid, block_2d(), 0, stream>>>(src, base, dst.data, dst.row_stride, h, w);
  }
}

template <class T>
void pack(const ConstPlanarView& src, const ConstPlanarView* base, const ImageView& dst, cudaStream_t stream) {
  const T* planes = static_cast<const T*>(src.data);
  const T* add = base ? static_cast<const T*>(base->data) : nullptr;
  if (dst.channels == 3) {
    launch_pack<3>(planes, add, dst, stream);
  } else {
    launch_pack<4>(planes, add, dst, stream);
  }
}

}  // namespace

void bgr_to_planar(const ConstImageView& src, const PlanarView& dst, cudaStream_t stream) {
  DeviceGuard guard(src.device);
  if (dst.dtype == DType::kFloat16) {
    launch_unpack(src, static_cast<__half*>(dst.data), stream);
  } else {
    launch_unpack(src, static_cast<float*>(dst.data), stream);
  }
  SE_CUDA_CHECK_LAUNCH("bgr_to_planar_kernel");
}

void planar_to_bgr(const ConstPlanarView& src, const ConstPlanarView* base, const ImageView& dst,
                   cudaStream_t stream) {
  DeviceGuard guard(src.device);
  if (src.dtype == DType::kFloat16) {
    pack<__half>(src, base, dst, stream);
  } else {
    pack<float>(src, base, dst, stream);
  }
  SE_CUDA_CHECK_LAUNCH("planar_to_bgr_kernel");
}

}  // namespace se::cuda
