// se::cuda for builds without CUDA (STREAMENHANCE_CUDA=0, or no nvcc at build time): no devices, and every
// op explains why it cannot run. Keeps the binding layer free of #ifdefs.
#include <stdexcept>

#include "cuda/runtime.h"

namespace se::cuda {
namespace {

[[noreturn]] void not_compiled(const char* what) {
  throw std::runtime_error(std::string(what) +
                           ": this _native was built without CUDA (STREAMENHANCE_CUDA=0, or no nvcc at build time); "
                           "rebuild with STREAMENHANCE_CUDA=1 or pass numpy arrays");
}

}  // namespace

bool compiled() noexcept { return false; }
int device_count() noexcept { return 0; }
std::string runtime_version() { return ""; }

int pointer_device(const void*, const char* name) {
  not_compiled((std::string("`") + name + "` is a CUDA array").c_str());
}

void wait_for_stream(std::uintptr_t, cudaStream_t, int) { not_compiled("wait_for_stream"); }

void bgr_to_planar(const ConstImageView&, const PlanarView&, cudaStream_t) { not_compiled("bgr_to_planar"); }
void planar_to_bgr(const ConstPlanarView&, const ConstPlanarView*, const ImageView&, cudaStream_t) {
  not_compiled("planar_to_bgr");
}
void resize(const ConstImageView&, const ImageView&, const ResizePlan&, cudaStream_t) { not_compiled("resize"); }
void resize(const ConstPlanarView&, const PlanarView&, const ResizePlan&, cudaStream_t) { not_compiled("resize"); }
void yuv420_to_bgr(const ConstImageView&, const ConstImageView&, const ConstImageView&, const YuvCoefficients&,
                   const ImageView&, cudaStream_t) {
  not_compiled("yuv420_to_bgr");
}
void fused_sr(const ConstImageView&, const FusedSRNet&, const ImageView&, cudaStream_t) { not_compiled("fused_sr"); }
void fused_sr_tiled(const ConstImageView&, const FusedSRNet&, const ImageView&, int, cudaStream_t) {
  not_compiled("fused_sr");
}

}  // namespace se::cuda
