// Fused SR on the GPU: the whole tiny x2 network (common/fused_sr_net.h), the MATLAB-bicubic x2 base and the
// BGR(A) uint8 packing in one kernel, computing what cpu::fused_sr's FMA paths (AVX2, AVX-512) compute.
//
// One thread block per tile of TW x TH input pixels (2TW x 2TH output pixels). The block loads the tile and a
// 5-pixel halo of input into shared memory, then runs the convolutions one after the other over a region that
// shrinks by one pixel per side per layer (neighbouring blocks recompute the halo instead of exchanging it); every
// activation map stays in shared memory, fp32:
//
//   buffer F  F x (TW+8)(TH+8)    f0 = lrelu(conv_first(x))      live until conv_body's epilogue
//   buffer X                       x (3 planes, halo 5), then d1 (G, halo 3), then act (F, halo 1)
//   buffer Y  F x (TW+4)(TH+4)    trunk
//
// (F trunk and G growth channels: fused_sr::kFeat and kGrowth.)
//
// conv_up runs per tile pixel in registers, and its 12 outputs (3 colours x 2 x 2) go straight to dst with the
// bicubic base. Positions outside the image hold 0 in every map: the zero padding of the next convolution. Phases
// are separated by __syncthreads(); no phase reads the buffer it writes.
//
// Arithmetic (fp32, CUDA cores): every output channel starts from its bias and accumulates fmaf(x, w, acc) over
// (input channel, ky, kx) in that order, the CPU kernel's order with FMA, and the epilogues use the CPU kernel's
// operations (--fmad=false keeps them unfused), so this kernel and cpu::fused_sr on AVX2 / AVX-512 agree bit for
// bit. The bicubic base is summed exactly in 64-bit integers (see q31) and rounded once to float: the float the
// CPU's exact double sum rounds to, and the reference's float64 resize.
//
// Weights (all layers back to back, then the biases: about 41 KB for 16 + 12 channels, past the 32,764 bytes CUDA
// allows as kernel parameters) live in global memory: one read-only copy per network and device, uploaded on its
// first launch there and kept for the process (device_weights). Every thread of a block reads the same weight at the
// same time (the unrolled loops index them at compile-time offsets), so the loads are broadcasts from the L1 /
// read-only cache. FusedSRNet stays plain host data: its digest names the copies.
//
// The tile code is written once against an executor: BlockEach runs a phase over the block's threads on the GPU,
// SerialEach runs it in a loop on the host. fused_sr_tiled with host views uses the latter, so tests check the
// kernel's indexing, halos, padding, base and packing on machines without a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "ops.h"

#define SE_HD __host__ __device__ __forceinline__
// Device code unrolls these loops completely (constant weight offsets); the host compiler does not know the pragma.
#ifdef __CUDA_ARCH__
#define SE_UNROLL _Pragma("unroll")
#else
#define SE_UNROLL
#endif

namespace se::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kGroup = fused_sr::kGroup;

// ---------------------------------------------------------------------------------------------- the network

// Layer shapes and their offsets into Weights, in execution order.
template <int kIn_, int kOut_, int kWeight_, int kBias_>
struct Layer {
  static constexpr int kIn = kIn_;
  static constexpr int kOut = kOut_;
  static constexpr int kWeight = kWeight_;
  static constexpr int kBias = kBias_;
  static constexpr int kWeights = kIn * kOut * 9;
};
template <int kIn, int kOut, class Prev>
using After = Layer<kIn, kOut, Prev::kWeight + Prev::kWeights, Prev::kBias + Prev::kOut>;

constexpr int kFeat = fused_sr::kFeat;
constexpr int kGrowth = fused_sr::kGrowth;
using First = Layer<3, kFeat, 0, 0>;
using Dense0 = After<kFeat, kGrowth, First>;
using Dense1 = After<kFeat + kGrowth, kFeat, Dense0>;
using Body = After<kFeat, kFeat, Dense1>;
using Up = After<kFeat, fused_sr::kUp, Body>;

template <class L>
constexpr bool shape_is(size_t l) {
  return fused_sr::kShapes[l].in == L::kIn && fused_sr::kShapes[l].out == L::kOut;
}
static_assert(shape_is<First>(0) && shape_is<Dense0>(1) && shape_is<Dense1>(2) && shape_is<Body>(3) &&
                  shape_is<Up>(4),
              "the CUDA kernel's layers must be common/fused_sr_net.h's");

// FusedSRNet's packed weights, all layers back to back (each [out / kGroup][in][9][kGroup]), then the biases.
struct Weights {
  float w[Up::kWeight + Up::kWeights];
  float b[Up::kBias + Up::kOut];
};

// The frame a launch works on (device pointers; host pointers for SerialEach).
struct Frame {
  const std::uint8_t* src;
  long long src_stride;
  std::uint8_t* dst;
  long long dst_stride;
  int src_channels;
  int dst_channels;
  int height;  // of the input
  int width;
};

template <class L>
SE_HD float weight(const Weights& wt, int co, int ci, int tap) {
  return wt.w[L::kWeight + ((co / kGroup) * L::kIn + ci) * 9 * kGroup + tap * kGroup + co % kGroup];
}

// ---------------------------------------------------------------------------------------------- the tile

__host__ __device__ constexpr int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }
__host__ __device__ constexpr int tile_area(int w, int h, int halo) { return (w + 2 * halo) * (h + 2 * halo); }

// A tile of kW x kH input pixels and the shared-memory offsets (floats) of its three buffers.
template <int TW, int TH>
struct Tile {
  static constexpr int kW = TW;
  static constexpr int kH = TH;
  static constexpr int kF = 0;
  static constexpr int kX = kF + kFeat * tile_area(TW, TH, 4);
  static constexpr int kY =
      kX + max3(3 * tile_area(TW, TH, 5), kGrowth * tile_area(TW, TH, 3), kFeat * tile_area(TW, TH, 1));
  static constexpr int kFloats = kY + kFeat * tile_area(TW, TH, 2);
  static constexpr size_t kBytes = sizeof(float) * kFloats;
};
// 32 x 16: 147,648 bytes (sm_80 / sm_90 parts fit one block per SM); 16 x 16: 85,696 bytes (two per SM on sm_90,
// one on sm_86; more than sm_75's 64 KB). Which is faster on a given GPU is not measured yet.
using WideTile = Tile<32, 16>;
using SquareTile = Tile<16, 16>;
static_assert(WideTile::kBytes == 147648 && SquareTile::kBytes == 85696, "shared memory as documented");

// One activation map: planes over the tile plus kHalo pixels on each side, channel after channel.
template <class T, int kHalo_>
struct Map {
  static constexpr int kHalo = kHalo_;
  static constexpr int kWidth = T::kW + 2 * kHalo;
  static constexpr int kPlane = kWidth * (T::kH + 2 * kHalo);
  float* data;
  SE_HD float* plane(int c) const { return data + c * kPlane; }
  // `channel` at the image position of (r, col) of a map with halo kOther (kOther <= kHalo).
  template <int kOther>
  SE_HD float at(int channel, int r, int col) const {
    return plane(channel)[(r + kHalo - kOther) * kWidth + col + kHalo - kOther];
  }
};

// Runs body(p) for p in [0, n) on the block's threads, then waits for all of them.
struct BlockEach {
  template <class Body>
  SE_HD void operator()(int n, const Body& body) const {
#ifdef __CUDA_ARCH__
    for (int p = static_cast<int>(threadIdx.x); p < n; p += kThreads) body(p);
    __syncthreads();
#else
    (void)n;
    (void)body;
#endif
  }
};

// The same on the host, one position after the other (the kernel's code run without a GPU).
struct SerialEach {
  template <class Body>
  SE_HD void operator()(int n, const Body& body) const {
#ifndef __CUDA_ARCH__
    for (int p = 0; p < n; ++p) body(p);
#else
    (void)n;
    (void)body;
#endif
  }
};

// ---------------------------------------------------------------------------------------------- arithmetic

// float32(v) / 255 rounded to nearest, as bgr_to_planar computes it: v * (1 / 255) corrected by one FMA step. Equal
// to the IEEE quotient for every v in 0..255 (checked exhaustively; the tests compare with the CPU bit for bit) and
// much cheaper than a division.
SE_HD float unit(std::uint8_t v) {
  const float x = v;
  const float r = 1.0f / 255.0f;
  const float q = x * r;
  return fmaf(fmaf(-q, 255.0f, x), r, q);
}

// unit(v) * 2^31, exactly: float32(v) / 255 is 0 or at least 2^-8, so its 24-bit significand ends at 2^-31 or
// above, and at most 1. The bicubic base then sums integers: taps are k / 128 (|k| <= 111, sum of |k| 152), so
// both passes stay under 2^31 * 152^2 < 2^46 and the sum is exact; one rounding to float (times 2^-45, exact)
// gives the correctly rounded base, which is what the CPU's exact double sum rounds to as well.
SE_HD std::uint32_t q31(std::uint8_t v) { return static_cast<std::uint32_t>(unit(v) * 2147483648.0f); }

SE_HD float to_float_rn(long long v) {
#ifdef __CUDA_ARCH__
  return __ll2float_rn(v);
#else
  return static_cast<float>(v);  // cvtsi2ss, round to nearest (the default rounding mode)
#endif
}

// Bicubic x2 taps (MATLAB imresize, Keys a = -0.5) times 128: output 2i + d reads inputs i + d - 2 + j.
SE_HD long long tap(int d, int j) {
  const int k = d == 0 ? j : 3 - j;  // d = 1 reads d = 0's taps backwards
  return k == 0 ? -3 : k == 1 ? 29 : k == 2 ? 111 : -9;
}

// MATLAB's symmetric border: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
SE_HD int mirror(int i, int n) {
  if (i >= 0 && i < n) return i;
  int m = i % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}

// The CPU kernel's vmax(v, 0.2 v).
SE_HD float lrelu(float v) {
  const float s = v * 0.2f;
  return v > s ? v : s;
}

// planar_to_bgr's floor(clamp(s, 0, 255)), NaN -> 0 (both comparisons are false for NaN).
SE_HD std::uint8_t to_u8(float s) {
  s = s > 0.0f ? s : 0.0f;
  s = s < 255.0f ? s : 255.0f;
  return static_cast<std::uint8_t>(static_cast<int>(s));
}

SE_HD bool inside(const Frame& f, int x, int y) { return x >= 0 && y >= 0 && x < f.width && y < f.height; }

SE_HD const std::uint8_t* src_pixel(const Frame& f, int x, int y) {
  return f.src + static_cast<long long>(y) * f.src_stride + static_cast<long long>(x) * f.src_channels;
}

// ---------------------------------------------------------------------------------------------- phases

// The 3x3 convolution of layer L at (r, c) of a map with halo kOutHalo: bias, then one FMA per input channel, ky,
// kx (in that order) and output channel. Input channels [0, kInA) come from map a, the rest from map b (dense1's
// concatenation [f0, d1]).
template <class L, int kInA, int kOutHalo, class A, class B>
SE_HD void conv3x3(const Weights& wt, const A& a, const B& b, int r, int c, float (&acc)[L::kOut]) {
  SE_UNROLL
  for (int co = 0; co < L::kOut; ++co) acc[co] = wt.b[L::kBias + co];
  SE_UNROLL
  for (int ci = 0; ci < L::kIn; ++ci) {
    const float* p;
    int width;
    if (ci < kInA) {
      constexpr int shift = A::kHalo - kOutHalo - 1;
      p = a.plane(ci) + (r + shift) * A::kWidth + c + shift;
      width = A::kWidth;
    } else {
      constexpr int shift = B::kHalo - kOutHalo - 1;
      p = b.plane(ci - kInA) + (r + shift) * B::kWidth + c + shift;
      width = B::kWidth;
    }
    SE_UNROLL
    for (int ky = 0; ky < 3; ++ky) {
      SE_UNROLL
      for (int kx = 0; kx < 3; ++kx) {
        const float x = p[ky * width + kx];
        SE_UNROLL
        for (int co = 0; co < L::kOut; ++co) acc[co] = fmaf(x, weight<L>(wt, co, ci, ky * 3 + kx), acc[co]);
      }
    }
  }
}

// Input x as float32(v) / 255 RGB planes over the tile and its 5-pixel halo, 0 outside the image.
template <class Each, class M>
SE_HD void load_input(const Each& each, const Frame& f, const M& in, int x0, int y0) {
  each(M::kPlane, [&](int p) {
    const int r = p / M::kWidth;
    const int c = p - r * M::kWidth;
    const int x = x0 - M::kHalo + c;
    const int y = y0 - M::kHalo + r;
    float red = 0.0f, green = 0.0f, blue = 0.0f;
    if (inside(f, x, y)) {
      const std::uint8_t* px = src_pixel(f, x, y);
      red = unit(px[2]);
      green = unit(px[1]);
      blue = unit(px[0]);
    }
    in.plane(0)[p] = red;
    in.plane(1)[p] = green;
    in.plane(2)[p] = blue;
  });
}

// Layer L over the whole map `out`, epilogue epi(channel, r, c, acc); 0 outside the image.
template <class L, int kInA, class Each, class A, class B, class O, class Epi>
SE_HD void conv_layer(const Each& each, const Frame& f, const Weights& wt, int x0, int y0, const A& a, const B& b,
                      const O& out, const Epi& epi) {
  each(O::kPlane, [&](int p) {
    const int r = p / O::kWidth;
    const int c = p - r * O::kWidth;
    float* o = out.data + p;
    if (!inside(f, x0 - O::kHalo + c, y0 - O::kHalo + r)) {
      SE_UNROLL
      for (int co = 0; co < L::kOut; ++co) o[co * O::kPlane] = 0.0f;
      return;
    }
    float acc[L::kOut];
    conv3x3<L, kInA, O::kHalo>(wt, a, b, r, c, acc);
    SE_UNROLL
    for (int co = 0; co < L::kOut; ++co) o[co * O::kPlane] = epi(co, r, c, acc[co]);
  });
}

// conv_up at every tile pixel inside the image, pixel shuffle (channel colour * 4 + dy * 2 + dx), plus the bicubic
// base computed from the uint8 source, packed like planar_to_bgr.
template <class T, class Each, class M>
SE_HD void up_and_pack(const Each& each, const Frame& f, const Weights& wt, const M& act, int x0, int y0) {
  each(T::kW * T::kH, [&](int p) {
    const int r = p / T::kW;
    const int c = p - r * T::kW;
    const int x = x0 + c;
    const int y = y0 + r;
    if (x >= f.width || y >= f.height) return;
    float res[Up::kOut];
    conv3x3<Up, Up::kIn, 0>(wt, act, act, r, c, res);
    // Input rows y-2..y+2 and byte offsets of columns x-2..x+2, mirrored past the image's sides.
    const std::uint8_t* rows[5];
    int cols[5];
    SE_UNROLL
    for (int k = 0; k < 5; ++k) {
      rows[k] = src_pixel(f, 0, mirror(y - 2 + k, f.height));
      cols[k] = mirror(x - 2 + k, f.width) * f.src_channels;
    }
    std::uint8_t bytes[2][2][3];  // [dy][dx][BGR]: computed first, so no store sits between the loads
    SE_UNROLL
    for (int colour = 0; colour < 3; ++colour) {
      const int channel = 2 - colour;  // RGB colour -> BGR byte
      SE_UNROLL
      for (int dy = 0; dy < 2; ++dy) {
        long long vertical[5];  // the vertical pass for output row 2y + dy at columns x-2..x+2
        SE_UNROLL
        for (int k = 0; k < 5; ++k) {
          long long sum = 0;
          SE_UNROLL
          for (int j = 0; j < 4; ++j) sum += tap(dy, j) * q31(rows[dy + j][cols[k] + channel]);
          vertical[k] = sum;
        }
        SE_UNROLL
        for (int dx = 0; dx < 2; ++dx) {
          long long sum = 0;
          SE_UNROLL
          for (int j = 0; j < 4; ++j) sum += tap(dx, j) * vertical[dx + j];
          const float base = to_float_rn(sum) * 0x1p-45f;
          bytes[dy][dx][channel] = to_u8((res[colour * 4 + dy * 2 + dx] + base) * 255.0f + 0.5f);
        }
      }
    }
    SE_UNROLL
    for (int dy = 0; dy < 2; ++dy) {
      SE_UNROLL
      for (int dx = 0; dx < 2; ++dx) {
        std::uint8_t* px = f.dst + static_cast<long long>(2 * y + dy) * f.dst_stride +
                           static_cast<long long>(2 * x + dx) * f.dst_channels;
        px[0] = bytes[dy][dx][0];
        px[1] = bytes[dy][dx][1];
        px[2] = bytes[dy][dx][2];
        if (f.dst_channels == 4) px[3] = 255;
      }
    }
  });
}

// The whole tile whose top-left input pixel is (x0, y0); `smem` holds T::kFloats floats.
template <class T, class Each>
SE_HD void run_tile(const Each& each, const Frame& f, const Weights& wt, float* smem, int x0, int y0) {
  const Map<T, 5> in{smem + T::kX};
  const Map<T, 4> f0{smem + T::kF};
  const Map<T, 3> d1{smem + T::kX};  // x is dead once f0 is written
  const Map<T, 2> trunk{smem + T::kY};
  const Map<T, 1> act{smem + T::kX};  // d1 is dead once trunk is written

  load_input(each, f, in, x0, y0);
  conv_layer<First, First::kIn>(each, f, wt, x0, y0, in, in, f0,
                                [](int, int, int, float acc) { return lrelu(acc); });
  conv_layer<Dense0, Dense0::kIn>(each, f, wt, x0, y0, f0, f0, d1,
                                  [](int, int, int, float acc) { return lrelu(acc); });
  // Dense block, then the RRDB's skip, in SRNet's order: f0 + 0.2 * (f0 + 0.2 * conv).
  conv_layer<Dense1, kFeat>(each, f, wt, x0, y0, f0, d1, trunk, [&](int co, int r, int c, float acc) {
    const float x = f0.template at<2>(co, r, c);
    return x + 0.2f * (x + 0.2f * acc);
  });
  conv_layer<Body, Body::kIn>(each, f, wt, x0, y0, trunk, trunk, act, [&](int co, int r, int c, float acc) {
    return lrelu(f0.template at<1>(co, r, c) + acc);
  });
  up_and_pack<T>(each, f, wt, act, x0, y0);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    fused_sr_kernel(const __grid_constant__ Frame f, const Weights* __restrict__ wt) {
  extern __shared__ float smem[];
  run_tile<T>(BlockEach{}, f, *wt, smem, static_cast<int>(blockIdx.x) * T::kW, static_cast<int>(blockIdx.y) * T::kH);
}

// ---------------------------------------------------------------------------------------------- host side

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Sides are at most kMaxSide (checked at the boundary): int is enough.
Frame frame_of(const ConstImageView& src, const ImageView& dst) {
  return Frame{src.data, src.row_stride, dst.data, dst.row_stride, src.channels, dst.channels,
               static_cast<int>(src.height), static_cast<int>(src.width)};
}

// net's layers concatenated, as the kernel reads them.
std::unique_ptr<Weights> weights_of(const FusedSRNet& net) {
  constexpr std::array<int, fused_sr::kLayers> weight_at{First::kWeight, Dense0::kWeight, Dense1::kWeight,
                                                          Body::kWeight, Up::kWeight};
  constexpr std::array<int, fused_sr::kLayers> bias_at{First::kBias, Dense0::kBias, Dense1::kBias, Body::kBias,
                                                        Up::kBias};
  auto wt = std::make_unique<Weights>();
  for (size_t l = 0; l < fused_sr::kLayers; ++l) {
    const fused_sr::LayerShape& shape = fused_sr::kShapes[l];
    const size_t weights = static_cast<size_t>(shape.in) * static_cast<size_t>(shape.out) * 9;
    if (net.weight[l].size() != weights || net.bias[l].size() != static_cast<size_t>(shape.out)) {
      throw std::invalid_argument(std::string("fused_sr: `net` layer ") + shape.name + " is not packed for " +
                                  fused_sr::shape_description());
    }
    std::memcpy(wt->w + weight_at[l], net.weight[l].data(), weights * sizeof(float));
    std::memcpy(wt->b + bias_at[l], net.bias[l].data(), net.bias[l].size() * sizeof(float));
  }
  return wt;
}

template <class T>
void emulate(const Frame& f, const Weights& wt) {
  std::vector<float> smem(static_cast<size_t>(T::kFloats));
  for (int y0 = 0; y0 < f.height; y0 += T::kH) {
    for (int x0 = 0; x0 < f.width; x0 += T::kW) {
      // NaN in every slot: a value read before the tile wrote it would reach the output.
      std::fill(smem.begin(), smem.end(), std::numeric_limits<float>::quiet_NaN());
      run_tile<T>(SerialEach{}, f, wt, smem.data(), x0, y0);
    }
  }
}

// net's weights on the current device (`device`): uploaded on the first call for this network and device, then
// shared by every thread and stream; kept until the process ends (a process packs a handful of networks). The
// upload is synchronous (cudaMemcpy), once.
const Weights* device_weights(const FusedSRNet& net, int device) {
  static std::mutex mutex;
  static std::map<std::pair<std::uint64_t, int>, Weights*> copies;
  const std::lock_guard<std::mutex> lock(mutex);
  Weights*& copy = copies[{net.digest, device}];
  if (copy == nullptr) {  // also after a failed upload: tried again on the next call
    const std::unique_ptr<Weights> host = weights_of(net);
    Weights* fresh = nullptr;
    SE_CUDA_CHECK(cudaMalloc(&fresh, sizeof(Weights)));
    const cudaError_t status = cudaMemcpy(fresh, host.get(), sizeof(Weights), cudaMemcpyHostToDevice);
    if (status != cudaSuccess) cudaFree(fresh);
    SE_CUDA_CHECK(status);
    copy = fresh;
  }
  return copy;
}

template <class T>
void launch(const Frame& f, const Weights* wt, cudaStream_t stream) {
  SE_CUDA_CHECK(cudaFuncSetAttribute(fused_sr_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(T::kBytes)));
  const dim3 grid(static_cast<unsigned>(ceil_div(f.width, T::kW)), static_cast<unsigned>(ceil_div(f.height, T::kH)));
  fused_sr_kernel<T><<<grid, kThreads, T::kBytes, stream>>>(f, wt);
  SE_CUDA_CHECK_LAUNCH("fused_sr_kernel");
}

std::string tile_name(int tile_width) {
  return tile_width == WideTile::kW ? "32x16" : "16x16";
}

}  // namespace

void fused_sr_tiled(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst, int tile_width,
                    cudaStream_t stream) {
  if (tile_width != 0 && tile_width != WideTile::kW && tile_width != SquareTile::kW) {
    throw std::invalid_argument("`tile_width`: expected 0 (auto), 16 or 32, got " + std::to_string(tile_width));
  }
  const Frame f = frame_of(src, dst);
  if (src.device == kHostDevice) {
    const std::unique_ptr<Weights> wt = weights_of(net);
    if (tile_width == SquareTile::kW) {
      emulate<SquareTile>(f, *wt);
    } else {
      emulate<WideTile>(f, *wt);
    }
    return;
  }
  DeviceGuard guard(src.device);
  int available = 0;
  SE_CUDA_CHECK(cudaDeviceGetAttribute(&available, cudaDevAttrMaxSharedMemoryPerBlockOptin, src.device));
  const auto fits = [&](size_t bytes) { return static_cast<size_t>(available) >= bytes; };
  if (tile_width == 0) tile_width = fits(WideTile::kBytes) ? WideTile::kW : SquareTile::kW;
  const size_t needed = tile_width == WideTile::kW ? WideTile::kBytes : SquareTile::kBytes;
  if (!fits(needed)) {
    throw std::runtime_error("fused_sr: the CUDA kernel's " + tile_name(tile_width) + " tile needs " +
                             std::to_string(needed) + " bytes of shared memory per block, cuda:" +
                             std::to_string(src.device) + " offers " + std::to_string(available) +
                             "; pass numpy arrays to run it on the CPU");
  }
  const Weights* wt = device_weights(net, src.device);
  if (tile_width == WideTile::kW) {
    launch<WideTile>(f, wt, stream);
  } else {
    launch<SquareTile>(f, wt, stream);
  }
}

void fused_sr(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst, cudaStream_t stream) {
  fused_sr_tiled(src, net, dst, 0, stream);
}

}  // namespace se::cuda
