// Build facts, device queries and the thread count. SE_* definitions come from CMakeLists.txt (this file
// only, so a flag change rebuilds one object).
#include <cstddef>
#include <sstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bindings/arrays.h"
#include "cpu/parallel.h"

namespace se::bindings {
namespace {

py::list split_archs(const std::string& joined) {
  py::list out;
  std::stringstream stream(joined);
  std::string arch;
  while (std::getline(stream, arch, ',')) {
    if (!arch.empty()) out.append(arch);
  }
  return out;
}

py::dict build_info() {
  py::dict info;
  info["version"] = SE_VERSION;
  info["cuda_compiled"] = se::cuda::compiled();
  const std::string runtime = se::cuda::runtime_version();
  info["cuda_runtime_version"] = runtime.empty() ? py::object(py::none()) : py::object(py::str(runtime));
  info["cuda_compiler_version"] = se::cuda::compiled() ? py::object(py::str(SE_CUDA_COMPILER)) : py::object(py::none());
  info["cuda_archs"] = split_archs(SE_CUDA_ARCHS);
  info["compiler"] = SE_COMPILER;
  info["cxx_flags"] = SE_CXX_FLAGS;
  info["build_type"] = SE_BUILD_TYPE;
  info["num_threads"] = se::cpu::get_num_threads();
  info["max_side"] = kMaxSide;
  return info;
}

// glibc hands a freed block over its mmap threshold back to the kernel, and trims the heap's free top over its trim
// threshold, so a frame loop that allocates the same few-MB buffers every frame (planes, conv activations) faults
// every page of them in again each frame: measured on a 2-core EPYC, a third of an AR frame and over half of the
// bicubic rung's. Raising both keeps such blocks in the heap for the next frame; the process keeps its peak heap.
bool keep_freed_memory(std::size_t mmap_threshold, std::size_t trim_threshold) {
#if defined(__GLIBC__)
  const bool mmap_set = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold)) == 1;
  const bool trim_set = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold)) == 1;
  return mmap_set && trim_set;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return false;
#endif
}

}  // namespace

void init_info(py::module_& m) {
  m.attr("__version__") = SE_VERSION;
  m.attr("MAX_SIDE") = kMaxSide;
  m.def("build_info", &build_info,
        "What this module was built with: version, cuda_compiled, cuda_runtime_version, cuda_archs, compiler, "
        "cxx_flags, build_type, num_threads, max_side.");
  m.def("cuda_available", [] { return se::cuda::compiled() && se::cuda::device_count() > 0; },
        "True when the CUDA kernels are compiled in and a device is usable right now.");
  m.def("cuda_device_count", &se::cuda::device_count, "Usable CUDA devices (0 without CUDA, driver or device).");
  m.def("set_num_threads", &se::cpu::set_num_threads, py::arg("threads"),
        "Threads of the CPU kernels, the calling thread included (1..1024).");
  m.def("get_num_threads", &se::cpu::get_num_threads, "Threads of the CPU kernels.");
  m.def("keep_freed_memory", &keep_freed_memory, py::arg("mmap_threshold"), py::arg("trim_threshold"),
        "glibc only: set malloc's mmap and trim thresholds (bytes) so freed frame-sized blocks stay in the heap; "
        "True when both were set.");
}

}  // namespace se::bindings
