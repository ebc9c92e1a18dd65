// nv12_to_bgr / i420_to_bgr: validation and dispatch.
#include <string>

#include "bindings/arrays.h"
#include "common/checks.h"
#include "ops.h"

namespace se::bindings {
namespace {

constexpr const char* kChromaSize = "ceil(H/2), ceil(W/2) for a luma plane of (H, W)";

// Destination shape and overlap checks shared by both layouts; returns the output view.
ImageView yuv_output(const ArrayDesc& dst, const ImageView& luma, std::initializer_list<const ArrayDesc*> inputs) {
  const ImageView out = output_image_arg(dst, kBgrFrame);
  check_shape(dst, {luma.height, luma.width, out.channels}, "(H, W, 3|4) for a luma plane of (H, W)");
  for (const ArrayDesc* in : inputs) check_no_overlap(dst, *in);
  return out;
}

void nv12_to_bgr(py::handle y_obj, py::handle uv_obj, py::handle dst_obj, const std::string& matrix, bool full_range,
                 std::uintptr_t stream) {
  const YuvCoefficients coef = yuv_coefficients(parse_yuv_matrix(matrix), full_range);
  const ArrayDesc y = array_desc(y_obj, "y");
  const ArrayDesc uv = array_desc(uv_obj, "uv");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  check_same_device({&y, &uv, &dst});
  const ImageView luma = image_arg(y, kLumaPlane);
  const ImageView pairs = image_arg(uv, kChromaPairs);
  check_shape(uv, {(luma.height + 1) / 2, (luma.width + 1) / 2, 2}, kChromaSize);
  const ImageView out = yuv_output(dst, luma, {&y, &uv});
  // U and V are channels 0 and 1 of the pairs; each view reads channel 0 with an element step of 2.
  ConstImageView u = pairs;
  ConstImageView v = pairs;
  v.data = pairs.data + 1;
  run_on_device(
      {&y, &uv, &dst}, stream, [&] { cpu::yuv420_to_bgr(luma, u, v, coef, out); },
      [&](cudaStream_t s) { cuda::yuv420_to_bgr(luma, u, v, coef, out, s); });
}

void i420_to_bgr(py::handle y_obj, py::handle u_obj, py::handle v_obj, py::handle dst_obj, const std::string& matrix,
                 bool full_range, std::uintptr_t stream) {
  const YuvCoefficients coef = yuv_coefficients(parse_yuv_matrix(matrix), full_range);
  const ArrayDesc y = array_desc(y_obj, "y");
  const ArrayDesc u = array_desc(u_obj, "u");
  const ArrayDesc v = array_desc(v_obj, "v");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  check_same_device({&y, &u, &v, &dst});
  const ImageView luma = image_arg(y, kLumaPlane);
  const ImageView u_plane = image_arg(u, kLumaPlane);
  const ImageView v_plane = image_arg(v, kLumaPlane);
  check_shape(u, {(luma.height + 1) / 2, (luma.width + 1) / 2}, kChromaSize);
  check_shape(v, {(luma.height + 1) / 2, (luma.width + 1) / 2}, kChromaSize);
  const ImageView out = yuv_output(dst, luma, {&y, &u, &v});
  run_on_device(
      {&y, &u, &v, &dst}, stream, [&] { cpu::yuv420_to_bgr(luma, u_plane, v_plane, coef, out); },
      [&](cudaStream_t s) { cuda::yuv420_to_bgr(luma, u_plane, v_plane, coef, out, s); });
}

}  // namespace

void init_yuv(py::module_& m) {
  m.def("nv12_to_bgr", &nv12_to_bgr, py::arg("y"), py::arg("uv"), py::arg("dst"), py::arg("matrix") = "bt709",
        py::arg("full_range") = false, py::arg("stream") = 0,
        R"doc(NV12 -> BGR(A) uint8 into `dst` (H, W, 3|4).

y: uint8 (H, W); uv: uint8 (ceil(H/2), ceil(W/2), 2) interleaved U, V; any row strides. matrix: "bt601" |
"bt709"; full_range: JPEG range instead of video range (16..235). 14-bit fixed point, nearest chroma.)doc");
  m.def("i420_to_bgr", &i420_to_bgr, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("dst"),
        py::arg("matrix") = "bt709", py::arg("full_range") = false, py::arg("stream") = 0,
        R"doc(I420 (yuv420p) -> BGR(A) uint8 into `dst` (H, W, 3|4).

y: uint8 (H, W); u, v: uint8 (ceil(H/2), ceil(W/2)); any row strides. Same arithmetic as nv12_to_bgr.)doc");
}

}  // namespace se::bindings
