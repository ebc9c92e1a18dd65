// bgr_to_planar / planar_to_bgr: validation and dispatch.
#include "bindings/arrays.h"
#include "common/checks.h"
#include "ops.h"

namespace se::bindings {
namespace {

constexpr const char* kRgbPlanes = "float32 or float16 (1, 3, H, W) RGB planes";

void bgr_to_planar(py::handle src_obj, py::handle dst_obj, std::uintptr_t stream) {
  const ArrayDesc src = array_desc(src_obj, "src");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  check_same_device({&src, &dst});
  const ImageView in = image_arg(src, kBgrFrame);
  const PlanarView out = planar_arg(dst, kRgbPlanes, true);
  check_writable(dst);
  check_shape(dst, {1, 3, in.height, in.width}, "(1, 3, H, W) for `src` of (H, W)");
  check_no_overlap(dst, src);
  run_on_device(
      {&src, &dst}, stream, [&] { cpu::bgr_to_planar(in, out); },
      [&](cudaStream_t s) { cuda::bgr_to_planar(in, out, s); });
}

void planar_to_bgr(py::handle src_obj, py::handle dst_obj, py::handle base_obj, std::uintptr_t stream) {
  const ArrayDesc src = array_desc(src_obj, "src");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  const auto [has_base, base] = optional_array_desc(base_obj, "base");
  if (has_base) {
    check_same_device({&src, &dst, &base});
  } else {
    check_same_device({&src, &dst});
  }
  const PlanarView in = planar_arg(src, kRgbPlanes, true);
  ConstPlanarView base_view;
  if (has_base) {
    base_view = planar_arg(base, kRgbPlanes, true);
    check_same_dtype(base, src);
    check_shape(base, src.shape, "the shape of `src`");
  }
  const ImageView out = output_image_arg(dst, kBgrFrame);
  check_shape(dst, {in.height, in.width, out.channels}, "(H, W, 3|4) for `src` of (1, 3, H, W)");
  check_no_overlap(dst, src);
  if (has_base) check_no_overlap(dst, base);
  const ConstPlanarView* base_ptr = has_base ? &base_view : nullptr;
  run_on_device(
      {&src, &dst}, stream, [&] { cpu::planar_to_bgr(in, base_ptr, out); },
      [&](cudaStream_t s) { cuda::planar_to_bgr(in, base_ptr, out, s); });
}

}  // namespace

void init_pack(py::module_& m) {
  m.def("bgr_to_planar", &bgr_to_planar, py::arg("src"), py::arg("dst"), py::arg("stream") = 0,
        R"doc(BGR(A) uint8 (H, W, 3|4) -> RGB planes (1, 3, H, W) in [0, 1], written into `dst`.

`src` rows may be padded (any row stride); pixels must be contiguous. `dst` is float32 or float16,
C-contiguous, on the same device. Values: float32(v) / 255, float16 rounded to nearest even.)doc");
  m.def("planar_to_bgr", &planar_to_bgr, py::arg("src"), py::arg("dst"), py::arg("base") = py::none(),
        py::arg("stream") = 0,
        R"doc(RGB planes (1, 3, H, W) [+ base] -> BGR(A) uint8 (H, W, 3|4), written into `dst`.

out = floor(clamp((src + base) * 255 + 0.5, 0, 255)) in float32; NaN -> 0, +inf -> 255; alpha 255.)doc");
}

}  // namespace se::bindings
