#include "bindings/arrays.h"

#include <pybind11/numpy.h>

#include <string>

#include "common/checks.h"

namespace se::bindings {
namespace {

bool little_endian_host() {
  const std::uint16_t probe = 1;
  return *reinterpret_cast<const std::uint8_t*>(&probe) == 1;
}

// Our dtype for a kind/size/byte order; anything else (float64, int16, big-endian, bool, ...) is kOther.
DType classify(char kind, int64_t itemsize, char byteorder) {
  const bool native = byteorder == '=' || byteorder == '|' || byteorder == (little_endian_host() ? '<' : '>');
  if (!native) return DType::kOther;
  if (kind == 'u' && itemsize == 1) return DType::kUInt8;
  if (kind == 'f' && itemsize == 2) return DType::kFloat16;
  if (kind == 'f' && itemsize == 4) return DType::kFloat32;
  return DType::kOther;
}

std::string type_name(py::handle obj) {
  const py::handle type = py::type::handle_of(obj);
  return py::str(type.attr("__module__")).cast<std::string>() + "." +
         py::str(type.attr("__qualname__")).cast<std::string>();
}

[[noreturn]] void not_an_array(py::handle obj, const char* name) {
  throw dtype_error(std::string("`") + name +
                    "`: expected a numpy.ndarray or a CUDA array (torch CUDA tensor, cupy array), got " +
                    type_name(obj));
}

ArrayDesc from_numpy(const py::array& arr, const char* name) {
  ArrayDesc d;
  d.name = name;
  const py::dtype dt = arr.dtype();
  d.dtype = classify(dt.kind(), dt.itemsize(), dt.byteorder());
  d.dtype_label = py::str(dt).cast<std::string>();
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    d.shape.push_back(arr.shape(i));
    d.strides.push_back(arr.strides(i));
  }
  d.data = static_cast<std::byte*>(const_cast<void*>(arr.data()));
  d.readonly = !arr.writeable();
  return d;
}

// __cuda_array_interface__ (v2 and v3): shape, typestr, data = (ptr, readonly), strides (None = C order),
// optional mask (must be None) and stream.
ArrayDesc from_cuda_interface(const py::dict& cai, const char* name) {
  ArrayDesc d;
  d.name = name;
  const std::string typestr = cai["typestr"].cast<std::string>();
  d.dtype = typestr.size() == 3 ? classify(typestr[1], typestr[2] - '0', typestr[0]) : DType::kOther;
  try {
    d.dtype_label = py::str(py::module_::import("numpy").attr("dtype")(typestr).attr("name")).cast<std::string>();
  } catch (const py::error_already_set&) {
    d.dtype_label = typestr;
  }
  for (const py::handle side : cai["shape"].cast<py::tuple>()) d.shape.push_back(side.cast<int64_t>());
  const py::tuple data = cai["data"].cast<py::tuple>();
  d.data = reinterpret_cast<std::byte*>(data[0].cast<std::uintptr_t>());
  d.readonly = data[1].cast<bool>();
  const int64_t itemsize = typestr.size() >= 3 ? std::stoll(typestr.substr(2)) : 1;
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    for (const py::handle stride : cai["strides"].cast<py::tuple>()) d.strides.push_back(stride.cast<int64_t>());
  } else {
    d.strides.assign(d.shape.size(), 0);
    int64_t stride = itemsize;
    for (size_t i = d.shape.size(); i-- > 0;) {
      d.strides[i] = stride;
      stride *= d.shape[i];
    }
  }
  if (d.strides.size() != d.shape.size()) {
    throw std::invalid_argument(std::string("`") + name + "`: __cuda_array_interface__ has " +
                                std::to_string(d.strides.size()) + " strides for " + std::to_string(d.shape.size()) +
                                " dimensions");
  }
  if (cai.contains("mask") && !cai["mask"].is_none()) {
    throw std::invalid_argument(std::string("`") + name + "`: expected an unmasked CUDA array, got a mask");
  }
  if (cai.contains("stream") && !cai["stream"].is_none()) d.cuda_stream = cai["stream"].cast<std::uintptr_t>();

  bool empty = false;
  for (const int64_t side : d.shape) empty = empty || side == 0;
  // An empty array may have a null pointer; it is rejected later with a clearer message than "not device memory".
  d.device = empty ? 0 : se::cuda::pointer_device(d.data, name);
  return d;
}

}  // namespace

ArrayDesc array_desc(py::handle obj, const char* name) {
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj), name);
  py::object cai;
  try {
    cai = obj.attr("__cuda_array_interface__");
  } catch (py::error_already_set& e) {
    // torch raises AttributeError for CPU tensors; other errors (a tensor that requires grad) are the
    // producer's own explanation and pass through.
    if (!e.matches(PyExc_AttributeError)) throw;
    not_an_array(obj, name);
  }
  if (!py::isinstance<py::dict>(cai)) not_an_array(obj, name);
  return from_cuda_interface(cai.cast<py::dict>(), name);
}

std::pair<bool, ArrayDesc> optional_array_desc(py::handle obj, const char* name) {
  if (obj.is_none()) return {false, ArrayDesc{}};
  return {true, array_desc(obj, name)};
}

}  // namespace se::bindings
