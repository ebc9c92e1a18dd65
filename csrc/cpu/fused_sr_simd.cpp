// The fused SR tile kernel for one x86 vector ISA. CMakeLists.txt compiles this file twice, into
// se::cpu::fused_sr_detail::avx2 (SE_FUSED_SIMD_BITS=256, -mavx2 -mfma) and ::avx512 (SE_FUSED_SIMD_BITS=512,
// -mavx512f -mavx2 -mfma); the driver (cpu/fused_sr.cpp) calls one only after checking the CPU. Where the compiler
// did not take the flags, compiled() is false and the driver never selects it. Nothing here may use library code
// (fused_sr_tile.h says why).
#include "cpu/fused_sr_tile.h"

#if SE_FUSED_SIMD_BITS == 512
#define SE_FUSED_SIMD avx512
#elif SE_FUSED_SIMD_BITS == 256
#define SE_FUSED_SIMD avx2
#else
#error "SE_FUSED_SIMD_BITS must be 256 or 512 (CMakeLists.txt sets it)"
#endif

#if (SE_FUSED_SIMD_BITS == 512 && defined(__AVX512F__)) || \
    (SE_FUSED_SIMD_BITS == 256 && defined(__AVX2__) && defined(__FMA__))
#define SE_FUSED_SIMD_COMPILED 1
#else
#define SE_FUSED_SIMD_COMPILED 0
#endif

#if SE_FUSED_SIMD_COMPILED

// gcc 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source, which -Wmaybe-uninitialized
// reports at every use (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace se::cpu::fused_sr_detail::SE_FUSED_SIMD {
namespace {

using V = float __attribute__((vector_size(SE_FUSED_SIMD_BITS / 8)));  // __m256 / __m512 without may_alias
using VD = double __attribute__((vector_size(SE_FUSED_SIMD_BITS / 8)));
// Vectors of columns per step, x 4 output channels of accumulators. AVX-512: 12 of the 32 registers (2 measured
// 2 % slower, 4 the same as 3). AVX2: 8 of the 16; 3 (all 16 registers with the inputs and the weight) made gcc 12
// spill in the inner loop and ran about 35 % slower.
constexpr int kBlockVectors = SE_FUSED_SIMD_BITS == 512 ? 3 : 2;

#if SE_FUSED_SIMD_BITS == 512
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline VD fmadd_pd(VD a, VD b, VD c) { return _mm512_fmadd_pd(a, b, c); }
#else
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline VD fmadd_pd(VD a, VD b, VD c) { return _mm256_fmadd_pd(a, b, c); }
#endif

#include "cpu/fused_sr_kernel.inc"

}  // namespace

void run_tile(const TileJob& job) { Tile(job).run(); }
bool compiled() { return true; }

}  // namespace se::cpu::fused_sr_detail::SE_FUSED_SIMD

#else

namespace se::cpu::fused_sr_detail::SE_FUSED_SIMD {

void run_tile(const TileJob& job) { run_tile_generic(job); }
bool compiled() { return false; }

}  // namespace se::cpu::fused_sr_detail::SE_FUSED_SIMD

#endif
