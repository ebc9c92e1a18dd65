// One declaration per fused op. csrc/cpu/*.cpp implements the se::cpu versions and csrc/cuda/*.cu the
// se::cuda versions (extension-cpp's mymuladd_cpu / mymuladd_cuda shape): same names, same plain views,
// plus the stream for CUDA. Arguments arrive validated (common/checks.h); the ops only compute.
//
// Exact semantics: python/streamenhance/native/reference.py.
#pragma once

#include <cstdint>

#include "common/frame.h"
#include "common/fused_sr_net.h"
#include "common/resize_taps.h"
#include "common/yuv_coefficients.h"

// The CUDA runtime's own definition (struct CUstream_st *), repeated so this header needs no CUDA headers.
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace se::cpu {

// uint8 (H, W, 3|4) BGR(A) -> (1, 3, H, W) RGB planes: float32(v) / 255, float16 rounded to nearest even.
void bgr_to_planar(const ConstImageView& src, const PlanarView& dst);

// (1, 3, H, W) RGB planes [+ base] -> uint8 (H, W, 3|4) BGR(A): floor(clamp((src + base) * 255 + 0.5, 0, 255))
// in float32, NaN -> 0, alpha 255. `base` may be null.
void planar_to_bgr(const ConstPlanarView& src, const ConstPlanarView* base, const ImageView& dst);

// uint8 image resize, rounded half up and clamped after each pass (MATLAB imresize on uint8).
void resize(const ConstImageView& src, const ImageView& dst, const ResizePlan& plan);

// float32 / float16 planes resize, summed in double and rounded once to the output dtype (exactly the
// reference's float64 computation).
void resize(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan);

// 4:2:0 YUV -> uint8 BGR(A). u and v address the chroma samples of 2x2 pixel blocks; their `channels` is the
// element step (1 for I420 planes, 2 for NV12's interleaved UV plane, channel 0 read).
void yuv420_to_bgr(const ConstImageView& y, const ConstImageView& u, const ConstImageView& v,
                   const YuvCoefficients& coef, const ImageView& dst);

// uint8 (H, W, 3|4) BGR(A) -> uint8 (2H, 2W, 3|4) BGR(A) through the whole SR network of `net` (common/
// fused_sr_net.h) in one pass: convolutions, pixel shuffle, MATLAB-bicubic x2 base, then planar_to_bgr's
// rounding; alpha 255. Equals bgr_to_planar -> SRNet.residual -> planar_to_bgr(base = resize x2) up to float
// rounding (fp32 throughout, different summation order: within one uint8 level).
void fused_sr(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst);

// Whether this CPU and build can run fused_sr's `isa` path, and the fastest one that they can.
bool fused_sr_supported(FusedIsa isa);
FusedIsa fused_sr_best_isa();

}  // namespace se::cpu

namespace se::cuda {

void bgr_to_planar(const ConstImageView& src, const PlanarView& dst, cudaStream_t stream);
void planar_to_bgr(const ConstPlanarView& src, const ConstPlanarView* base, const ImageView& dst,
                   cudaStream_t stream);
void resize(const ConstImageView& src, const ImageView& dst, const ResizePlan& plan, cudaStream_t stream);
void resize(const ConstPlanarView& src, const PlanarView& dst, const ResizePlan& plan, cudaStream_t stream);
void yuv420_to_bgr(const ConstImageView& y, const ConstImageView& u, const ConstImageView& v,
                   const YuvCoefficients& coef, const ImageView& dst, cudaStream_t stream);
// cpu::fused_sr's result, bit for bit with its FMA paths (AVX2, AVX-512); net.isa is ignored.
void fused_sr(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst, cudaStream_t stream);

// Test and tuning hook of fused_sr: tile_width forces the kernel's tile (32: 32 x 16 input pixels, 16: 16 x 16;
// 0: the widest that the device's shared memory takes). Host views run the kernel's tile code serially on the CPU
// (slow; it checks the kernel's arithmetic and indexing where there is no GPU; 0 means 32 there).
void fused_sr_tiled(const ConstImageView& src, const FusedSRNet& net, const ImageView& dst, int tile_width,
                    cudaStream_t stream);

}  // namespace se::cuda
