// PYBIND11_MODULE(_native): the compiled half of streamenhance.native. Use it through that package, which
// allocates outputs and keeps the import error when this module is missing.
#include <exception>

#include "bindings/arrays.h"
#include "common/checks.h"

PYBIND11_MODULE(_native, m) {
  namespace py = pybind11;
  m.doc() =
      "Fused frame kernels of streamenhance (CPU, and CUDA when compiled in). Every op writes into a "
      "caller-provided `dst`; numpy arrays run on the CPU, __cuda_array_interface__ arrays on their GPU.";
  // A wrong dtype or a non-array is a TypeError; everything else a user can get wrong is a ValueError
  // (std::invalid_argument, pybind11's default). Local: must not change other modules' translations.
  py::register_local_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const se::dtype_error& e) {
      py::set_error(PyExc_TypeError, e.what());
    }
  });
  se::bindings::init_info(m);
  se::bindings::init_pack(m);
  se::bindings::init_resize(m);
  se::bindings::init_yuv(m);
  se::bindings::init_fused(m);
}
