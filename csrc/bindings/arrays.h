// Python objects -> ArrayDesc, and running an op on the device its arrays live on. The binding files are the
// only code that sees Python objects; kernels receive plain views (common/frame.h).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "common/frame.h"
#include "cuda/runtime.h"

namespace se::bindings {

namespace py = pybind11;

// A numpy.ndarray as it is (never converted or copied), or any object exposing __cuda_array_interface__
// (torch CUDA tensors, cupy arrays). Anything else raises TypeError naming what arrived.
ArrayDesc array_desc(py::handle obj, const char* name);

// Same, for an optional argument: None -> {false, {}}.
std::pair<bool, ArrayDesc> optional_array_desc(py::handle obj, const char* name);

// Runs `cpu()` or `cuda(stream)` with the GIL released, on the device of `arrays` (the caller has checked that
// they share one). For CUDA, first makes `stream` wait for the producer streams the arrays named.
template <class CpuFn, class CudaFn>
void run_on_device(std::initializer_list<const ArrayDesc*> arrays, std::uintptr_t stream, CpuFn&& cpu,
                   CudaFn&& cuda) {
  const ArrayDesc& first = **arrays.begin();
  if (!first.on_cuda()) {
    py::gil_scoped_release release;
    cpu();
    return;
  }
  auto* const cuda_stream = reinterpret_cast<cudaStream_t>(stream);
  std::uintptr_t waited = 0;
  for (const ArrayDesc* a : arrays) {
    if (a->cuda_stream != 0 && a->cuda_stream != waited) {
      se::cuda::wait_for_stream(a->cuda_stream, cuda_stream, a->device);
      waited = a->cuda_stream;
    }
  }
  py::gil_scoped_release release;
  cuda(cuda_stream);
}

void init_info(py::module_& m);
void init_fused(py::module_& m);
void init_pack(py::module_& m);
void init_resize(py::module_& m);
void init_yuv(py::module_& m);

}  // namespace se::bindings
