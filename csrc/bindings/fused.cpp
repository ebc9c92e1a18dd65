// FusedSRNet (packed weights) and fused_sr: validation and dispatch. CPU only: a CUDA array is a clear error.
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
  return std::string("`state_dict`: the fused kernel runs ") + fused_sr::kShapeDescription + " only; " + what;
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

void fused_sr(py::handle src_obj, const FusedSRNet& net, py::handle dst_obj) {
  const ArrayDesc src = array_desc(src_obj, "src");
  const ArrayDesc dst = array_desc(dst_obj, "dst");
  check_same_device({&src, &dst});
  if (src.on_cuda()) {
    throw std::invalid_argument("fused_sr runs on the CPU only: `src` is on " + device_string(src.device) +
                                "; pass numpy arrays");
  }
  const ImageView in = image_arg(src, kBgrFrame);
  const ImageView out = output_image_arg(dst, kBgrFrame);
  check_shape(dst, {2 * in.height, 2 * in.width, out.channels}, "(2H, 2W, 3|4) for `src` of (H, W)");
  check_no_overlap(dst, src);
  py::gil_scoped_release release;
  cpu::fused_sr(in, net, out);
}

}  // namespace

void init_fused(py::module_& m) {
  py::class_<FusedSRNet>(m, "FusedSRNet", R"doc(SR network weights packed for fused_sr.

Built from the float32 state dict (name -> numpy array) of an SRNet of tier tiny at x2 (num_feat 12,
num_rrdb 1, num_rdb 1, num_dense 2, growth 8); any other shape raises ValueError naming the first
difference. `isa`: 'auto' (the fastest this CPU and build support), 'avx512', 'avx2' or 'generic'
(portable C++).)doc")
      .def(py::init(&make_net), py::arg("state_dict"), py::arg("isa") = "auto")
      .def_property_readonly("isa", [](const FusedSRNet& net) { return std::string(fused_isa_name(net.isa)); })
      .def_property_readonly_static("scale", [](const py::object&) { return fused_sr::kScale; });
  m.def("fused_sr", &fused_sr, py::arg("src"), py::arg("net"), py::arg("dst"),
        R"doc(BGR(A) uint8 (H, W, 3|4) -> BGR(A) uint8 (2H, 2W, 3|4) through `net`, written into `dst` (CPU only).

The whole SR pipeline in one pass: the network's convolutions and pixel shuffle, the MATLAB-bicubic x2
base, floor(clamp((residual + base) * 255 + 0.5, 0, 255)); alpha 255. `src` rows may be padded.)doc");
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
