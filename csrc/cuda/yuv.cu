// 4:2:0 YUV -> BGR(A) on the GPU: one thread per pixel, integer arithmetic identical to the CPU kernel.
#include <cstdint>

#include "cuda/cuda_check.h"
#include "ops.h"

namespace se::cuda {
namespace {

struct Plane {
  const std::uint8_t* data;
  long long row_stride;
  int step;  // element step: 1 for I420 planes, 2 for NV12's interleaved UV
};

__device__ __forceinline__ std::uint8_t finish(int acc) {
  int v = (acc + (1 << (kYuvFractionBits - 1))) >> kYuvFractionBits;  // arithmetic shift: floor
  v = v < 0 ? 0 : v;
  v = v > 255 ? 255 : v;
  return static_cast<std::uint8_t>(v);
}

template <int C>
__global__ void yuv420_kernel(Plane y_plane, Plane u_plane, Plane v_plane, YuvCoefficients coef,
                              std::uint8_t* __restrict__ dst, long long dst_stride, int height, int width) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const int u = static_cast<int>(u_plane.data[(y / 2) * u_plane.row_stride + (x / 2) * u_plane.step]) - 128;
  const int v = static_cast<int>(v_plane.data[(y / 2) * v_plane.row_stride + (x / 2) * v_plane.step]) - 128;
  const int l = (static_cast<int>(y_plane.data[y * y_plane.row_stride + x]) - coef.y_offset) * coef.y_gain;
  std::uint8_t* px = dst + y * dst_stride + static_cast<long long>(x) * C;
  px[0] = finish(l + coef.u_to_b * u);
  px[1] = finish(l - coef.u_to_g * u - coef.v_to_g * v);
  px[2] = finish(l + coef.v_to_r * v);
  if (C == 4) px[C - 1] = 255;
}

Plane plane(const ConstImageView& view) { return Plane{view.data, view.row_stride, view.channels}; }

}  // namespace

void yuv420_to_bgr(const ConstImageView& y, const ConstImageView& u, const ConstImageView& v,
                   const YuvCoefficients& coef, const ImageView& dst, cudaStream_t stream) {
  DeviceGuard guard(dst.device);
  const dim3 grid = grid_2d(dst.width, dst.height);
  const int h = static_cast<int>(dst.height);
  const int w = static_cast<int>(dst.width);
  const Plane planes[3] = {plane(y), plane(u), plane(v)};
  if (dst.channels == 3) {
    yuv420_kernel<3><<<grid, block_2d(), 0, stream>>>(planes[0], planes[1], planes[2], coef, dst.data,
                                                       dst.row_stride, h, w);
  } else {
    yuv420_kernel<4><<<grid, block_2d(), 0, stream>>>(planes[0], planes[1], planes[2], coef, dst.data,
                                                       dst.row_stride, h, w);
  }
  SE_CUDA_CHECK_LAUNCH("yuv420_kernel");
}

}  // namespace se::cuda
