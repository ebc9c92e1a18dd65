// FusedSRNet (packed weights) and fused_sr: validation and dispatch (numpy arrays to cpu::fused_sr, CUDA arrays to
// cuda::fused_sr on their device and stream).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>
#include <set>
#include <string>

#include "bindings/arrays.h"
#include "common/checks.h"
#include "common/fused_sr_net.h"
#include "ops.h"

namespace se::bindings {
namespace {

std::string unsupported(const std::string& what) {
  return std::string("`state_dict`: the fused kernel runs ") + fused_sr::shape_description() + " only; " + what;
}

// state_dict[key] as C-contiguous float32 of exactly `shape` (a copy only when the array was strided).
py::array_t<float, py::array::c_style> tensor(const py::dict& state, const std::string& key,
                                              const std::vector<int64_t>& shape) {
  if (!state.contains(key)) throw std::invalid_argument(unsupported("'" + key + "' is missing"));
  const std::string name = "state_dict['" + key + "']";
  const py::handle value = state[key.c_str()];
  if (!py::isinstance<py::array>(value)) {
    throw dtype_error("`" + name + "`: expected a float32 numpy.ndarray, got " +
                      py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
  }
  const ArrayDesc desc = array_desc(value, name.c_str());
  const std::string expected = "float32 " + tuple_string(shape);
  if (desc.dtype != DType::kFloat32) {
    throw dtype_error("`" + name + "`: expected " + expected + ", got " + describe(desc));
  }
  if (desc.shape != shape) {
    throw std::invalid_argument(unsupported("`" + name + "`: expected " + expected + ", got " + describe(desc)));
  }
  return py::array_t<float, py::array::c_style>::ensure(value);
}

FusedSRNet make_net(const py::dict& state, const std::string& isa_name) {
  const FusedIsa isa = isa_name == "auto" ? cpu::fused_sr_best_isa() : parse_fused_isa(isa_name);
  if (!cpu::fused_sr_supported(isa)) {
    throw std::invalid_argument(std::string("`isa`: '") + fused_isa_name(isa) +
                                "' is not supported by this CPU or build; use 'auto' or 'generic'");
  }
  std::set<std::string> expected;
  std::array<py::array_t<float, py::array::c_style>, fused_sr::kLayers> weights, biases;
  std::array<const float*, fused_sr::kLayers> weight_ptrs{}, bias_ptrs{};
  for (size_t l = 0; l < fused_sr::kLayers; ++l) {
    const fused_sr::LayerShape& layer = fused_sr::kShapes[l];
    const std::string prefix = layer.name;
    weights[l] = tensor(state, prefix + ".weight", {layer.out, layer.in, 3, 3});
    biases[l] = tensor(state, prefix + ".bias", {layer.out});
    weight_ptrs[l] = weights[l].data();
    bias_ptrs[l] = biases[l].data();
    expected.insert(prefix + ".weight");
    expected.insert(prefix + ".bias");
  }
  for (const auto& item : state) {
    const std::string key = py::str(item.first).cast<std::string>();
    if (!expected.count(key)) throw std::invalid_argument(unsupported("unexpected '" + key + "' (a larger network?)"));
  }
  return pack_fused_sr_net(weight_ptrs, bias_ptrs, isa);
}

// The validated (src, dst) views of a fused_sr call, both on one device.
struct FusedArgs {
  ArrayDesc src, dst;
  ImageView in, out;
};

FusedArgs fused_args(py::handle src_obj, py::handle dst_obj) {
  FusedArgs a{array_desc(src_obj, "src"), array_desc(dst_obj, "dst"), {}, {}};
  check_same_device({&a.src, &a.dst});
  a.in = image_arg(a.src, kBgrFrame);
  a.out = output_image_arg(a.dst, kBgrFrame);
  check_shape(a.dst, {2 * a.in.height, 2 * a.in.width, a.out.channels}, "(2H, 2W, 3|4) for `src` of (H, W)");
  check_no_overlap(a.dst, a.src);
  return a;
}

void fused_sr(py::handle src_obj, const FusedSRNet& net, py::handle dst_obj, std::uintptr_t stream) {
  const FusedArgs a = fused_args(src_obj, dst_obj);
  run_on_device(
      {&a.src, &a.dst}, stream, [&] { cpu::fused_sr(a.in, net, a.out); },
      [&](cudaStream_t s) { cuda::fused_sr(a.in, net, a.out, s); });
}

// Test and tuning hook: the CUDA kernel with a forced tile; numpy arrays run its tile code serially on the host.
void fused_sr_cuda_kernel(py::handle src_obj, const FusedSRNet& net, py::handle dst_obj, int tile_width,
                          std::uintptr_t stream) {
  const FusedArgs a = fused_args(src_obj, dst_obj);
  const auto run = [&](cudaStream_t s) { cuda::fused_sr_tiled(a.in, net, a.out, tile_width, s); };
  run_on_device({&a.src, &a.dst}, stream, [&] { run(nullptr); }, run);
}

}  // namespace

void init_fused(py::module_& m) {
  py::class_<FusedSRNet>(m, "FusedSRNet", R"doc(SR network weights packed for fused_sr.

Built from the float32 state dict (name -> numpy array) of an SRNet of the shape in `FusedSRNet.shape` (tier
tiny at x2); any other shape raises ValueError naming the first difference. `isa`, the CPU path: 'auto' (the
fastest this CPU and build support), 'avx512', 'avx2' or 'generic' (portable C++); CUDA arrays ignore it.)doc")
      .def(py::init(&make_net), py::arg("state_dict"), py::arg("isa") = "auto")
      .def_property_readonly("isa", [](const FusedSRNet& net) { return std::string(fused_isa_name(net.isa)); })
      .def_property_readonly_static("scale", [](const py::object&) { return fused_sr::kScale; })
      .def_property_readonly_static("shape", [](const py::object&) {
        py::dict shape;  // SRNet's constructor arguments
        shape["num_feat"] = fused_sr::kFeat;
        shape["num_rrdb"] = 1;
        shape["num_rdb"] = 1;
        shape["num_dense"] = 2;
        shape["growth"] = fused_sr::kGrowth;
        shape["scale"] = fused_sr::kScale;
        return shape;
      });
  m.def("fused_sr", &fused_sr, py::arg("src"), py::arg("net"), py::arg("dst"), py::arg("stream") = 0,
        R"doc(BGR(A) uint8 (H, W, 3|4) -> BGR(A) uint8 (2H, 2W, 3|4) through `net`, written into `dst`.

The whole SR pipeline in one pass: the network's convolutions and pixel shuffle, the MATLAB-bicubic x2
base, floor(clamp((residual + base) * 255 + 0.5, 0, 255)); alpha 255. `src` rows may be padded. numpy
arrays run on the CPU (net.isa's path), CUDA arrays on their GPU and `stream` (fp32; bit-identical to the
CPU's avx2 / avx512 paths).)doc");
  m.def("_fused_sr_cuda_kernel", &fused_sr_cuda_kernel, py::arg("src"), py::arg("net"), py::arg("dst"),
        py::arg("tile_width") = 0, py::arg("stream") = 0,
        R"doc(Test and tuning hook: fused_sr's CUDA kernel with its tile forced (32: 32 x 16 input pixels, 16: 16 x 16,
0: the widest that fits). numpy arrays run the kernel's tile code serially on the host (slow; no GPU needed).
RuntimeError where _native was built without CUDA.)doc");
  m.def(
      "fused_sr_isas",
      [] {
        std::vector<std::string> names;
        for (const FusedIsa isa : {FusedIsa::kAvx512, FusedIsa::kAvx2, FusedIsa::kGeneric}) {
          if (cpu::fused_sr_supported(isa)) names.emplace_back(fused_isa_name(isa));
        }
        return names;
      },
      "The ISAs fused_sr can use on this CPU and build, fastest first ('auto' picks the first).");
}

}  // namespace se::bindings
