// resize: uint8 images or float planes, validation and dispatch.
#include <pybind11/numpy.h>

#include <algorithm>
#include <string>

#include "bindings/arrays.h"
#include "common/checks.h"
#include "ops.h"

namespace se::bindings {
namespace {

constexpr const char* kFloatPlanes = "float32 or float16 (N, C, H, W) planes";

ResizePlan plan_for(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, ResizeMethod method, bool antialias) {
  py::gil_scoped_release release;  // taps for a large image take a moment
  return make_resize_plan(in_h, in_w, out_h, out_w, method, antialias);
}

void resize_image(const ArrayDesc& src, const ArrayDesc& dst, ResizeMethod method, bool antialias,
                  std::uintptr_t stream) {
  const ImageView in = image_arg(src, kResizeImage);
  const ImageView out = output_image_arg(dst, kResizeImage);
  if (dst.shape.size() != src.shape.size() || out.channels != in.channels) {
    throw std::invalid_argument("`dst`: expected a uint8 image with the layout of `src` " + tuple_string(src.shape) +
                                " (same channels), got " + describe(dst));
  }
  check_no_overlap(dst, src);
  const ResizePlan plan = plan_for(in.height, in.width, out.height, out.width, method, antialias);
  run_on_device(
      {&src, &dst}, stream, [&] { cpu::resize(in, out, plan); },
      [&](cudaStream_t s) { cuda::resize(in, out, plan, s); });
}

void resize_planes(const ArrayDesc& src, const ArrayDesc& dst, ResizeMethod method, bool antialias,
                   std::uintptr_t stream) {
  const PlanarView in = planar_arg(src, kFloatPlanes, false);
  const PlanarView out = planar_arg(dst, kFloatPlanes, false);
  check_writable(dst);
  if (out.batch != in.batch || out.channels != in.channels) {
    throw std::invalid_argument("`dst`: expected planes (" + std::to_string(in.batch) + ", " +
                                std::to_string(in.channels) + ", H', W') like `src` " + tuple_string(src.shape) +
                                ", got " + describe(dst));
  }
  check_no_overlap(dst, src);
  const ResizePlan plan = plan_for(in.height, in.width, out.height, out.width, method, antialias);
  run_on_device(
      {&src, &dst}, stream, [&] { cpu::resize(in, out, plan); },
      [&](cudaStream_t s) { cuda::resize(in, out, plan, s); });
}

void resize(py::handle src_obj, py::handle dst_obj, const std::string& method, bool antialias, std::uintptr_t stream) {
  const ResizeMethod parsed = parse_resize_method(method);
  const ArrayDesc src = array_desc(src_obj, "src");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  check_same_device({&src, &dst});
  if (src.dtype == DType::kUInt8) {
    check_same_dtype(dst, src);
    resize_image(src, dst, parsed, antialias, stream);
  } else if (src.dtype == DType::kFloat32 || src.dtype == DType::kFloat16) {
    check_same_dtype(dst, src);
    resize_planes(src, dst, parsed, antialias, stream);
  } else {
    throw dtype_error("`src`: expected a " + std::string(kResizeImage.expected) + " or " + kFloatPlanes + ", got " +
                      describe(src));
  }
}

// Test hook: the taps the kernels use, to compare with reference.resize_taps bit for bit.
py::tuple resize_taps_py(int64_t in_size, int64_t out_size, const std::string& method, bool antialias) {
  if (in_size > kMaxSide || out_size > kMaxSide) {
    throw std::invalid_argument("resize sizes must be at most " + std::to_string(kMaxSide) + " (MAX_SIDE)");
  }
  const auto taps = resize_taps(in_size, out_size, parse_resize_method(method), antialias);
  py::array_t<std::int32_t> index({taps->out_size, taps->taps});
  py::array_t<double> weight({taps->out_size, taps->taps});
  std::copy(taps->index.begin(), taps->index.end(), index.mutable_data());
  std::copy(taps->weight.begin(), taps->weight.end(), weight.mutable_data());
  return py::make_tuple(index, weight);
}

}  // namespace

void init_resize(py::module_& m) {
  m.def("resize", &resize, py::arg("src"), py::arg("dst"), py::arg("method") = "bicubic",
        py::arg("antialias") = true, py::arg("stream") = 0,
        R"doc(Resize `src` into `dst` (the target size is `dst`'s), MATLAB imresize semantics.

uint8 (H, W) / (H, W, C) images (C in 1..4, any row stride; bit-exact with reference.resize) or float32 /
float16 (N, C, H, W) C-contiguous planes (summed in double, rounded once: bit-exact too).
method: "bicubic" | "area".)doc");
  m.def("_resize_taps", &resize_taps_py, py::arg("in_size"), py::arg("out_size"), py::arg("method") = "bicubic",
        py::arg("antialias") = true, "(indices int32 (out, taps), weights float64 (out, taps)) of one dimension.");
}

}  // namespace se::bindings
