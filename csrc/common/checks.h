// Boundary validation: named inline helpers (no macros) that turn an ArrayDesc into a kernel view or throw.
//
// Messages read "what, expected, got", e.g.
//   `src`: expected uint8 (H, W, 3|4) BGR frame, got float32 (720, 1280, 4)
// User errors throw std::invalid_argument (pybind11: ValueError); a wrong dtype throws se::dtype_error,
// which the binding layer registers as TypeError. Nothing here knows about Python.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/frame.h"

namespace se {

// A wrong element type or array type (TypeError in Python).
class dtype_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline std::string tuple_string(const std::vector<int64_t>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(values[i]);
  }
  return out + (values.size() == 1 ? ",)" : ")");
}

// "float32 (720, 1280, 4)"
inline std::string describe(const ArrayDesc& a) { return a.dtype_label + " " + tuple_string(a.shape); }

inline std::string quoted(const ArrayDesc& a) { return std::string("`") + a.name + "`"; }

inline std::string device_string(int device) {
  return device == kHostDevice ? std::string("cpu") : "cuda:" + std::to_string(device);
}

// What an image argument may look like.
struct ImageRule {
  const char* expected;  // "uint8 (H, W, 3|4) BGR frame"
  bool allow_2d;         // (H, W), one channel
  bool allow_3d;         // (H, W, C)
  int min_channels;      // for the 3-D form
  int max_channels;
};

inline const ImageRule kBgrFrame{"uint8 (H, W, 3|4) BGR frame", false, true, 3, 4};
inline const ImageRule kResizeImage{"uint8 (H, W) or (H, W, C) image with C in 1..4", true, true, 1, 4};
inline const ImageRule kLumaPlane{"uint8 (H, W) plane", true, false, 1, 1};
inline const ImageRule kChromaPairs{"uint8 (H, W, 2) interleaved UV plane", false, true, 2, 2};

// Dimensions of size 1 have no meaningful stride (NumPy and torch may report anything for them).
inline bool stride_matters(const ArrayDesc& a, size_t dim) { return a.shape[dim] > 1; }

inline void check_not_empty(const ArrayDesc& a, const char* expected) {
  for (const int64_t side : a.shape) {
    if (side == 0) {
      throw std::invalid_argument(quoted(a) + ": expected a non-empty " + expected + ", got " + describe(a));
    }
  }
}

inline void check_side_limits(const ArrayDesc& a) {
  for (const int64_t side : a.shape) {
    if (side > kMaxSide) {
      throw std::invalid_argument(quoted(a) + ": every side must be at most " + std::to_string(kMaxSide) +
                                  " (MAX_SIDE), got " + describe(a));
    }
  }
}

inline void check_no_negative_strides(const ArrayDesc& a) {
  for (size_t dim = 0; dim < a.shape.size(); ++dim) {
    if (stride_matters(a, dim) && a.strides[dim] < 0) {
      throw std::invalid_argument(quoted(a) + ": expected non-negative strides, got strides " +
                                  tuple_string(a.strides) + " (a reversed view); pass np.ascontiguousarray(" +
                                  a.name + ")");
    }
  }
}

inline void check_writable(const ArrayDesc& a) {
  if (a.readonly) {
    throw std::invalid_argument(quoted(a) + ": expected a writable output array, got a read-only " + describe(a));
  }
}

// The uint8 image view of `a`, or an exception. Pixels must be contiguous; rows may be padded.
inline ImageView image_arg(const ArrayDesc& a, const ImageRule& rule) {
  const std::string got = ", got " + describe(a);
  if (a.dtype != DType::kUInt8) throw dtype_error(quoted(a) + ": expected " + rule.expected + got);
  const size_t ndim = a.shape.size();
  const bool shape_ok = (ndim == 2 && rule.allow_2d) ||
                        (ndim == 3 && rule.allow_3d && a.shape[2] >= rule.min_channels &&
                         a.shape[2] <= rule.max_channels);
  if (!shape_ok) throw std::invalid_argument(quoted(a) + ": expected " + rule.expected + got);
  check_not_empty(a, rule.expected);
  check_side_limits(a);
  check_no_negative_strides(a);

  ImageView view;
  view.data = reinterpret_cast<std::uint8_t*>(a.data);
  view.height = a.shape[0];
  view.width = a.shape[1];
  view.channels = ndim == 3 ? static_cast<int>(a.shape[2]) : 1;
  view.device = a.device;
  const int64_t channels = view.channels;
  const bool channel_ok = ndim == 2 || !stride_matters(a, 2) || a.strides[2] == 1;
  const bool pixel_ok = !stride_matters(a, 1) || a.strides[1] == channels;
  if (!channel_ok || !pixel_ok) {
    const std::string wanted = ndim == 3 ? "strides[1] == " + std::to_string(channels) + " and strides[2] == 1"
                                         : std::string("strides[1] == 1");
    throw std::invalid_argument(quoted(a) + ": expected contiguous pixels (" + wanted + ", in bytes), got strides " +
                                tuple_string(a.strides) + "; pass np.ascontiguousarray(" + a.name + ")");
  }
  if (stride_matters(a, 0) && a.strides[0] == 0) {
    throw std::invalid_argument(quoted(a) + ": expected a positive row stride, got strides " +
                                tuple_string(a.strides) + " (broadcast rows); pass np.ascontiguousarray(" +
                                a.name + ")");
  }
  view.row_stride = stride_matters(a, 0) ? a.strides[0] : view.width * channels;
  return view;
}

// An output image: writable, and its rows must not overlap each other.
inline ImageView output_image_arg(const ArrayDesc& a, const ImageRule& rule) {
  ImageView view = image_arg(a, rule);
  check_writable(a);
  if (view.height > 1 && view.row_stride < view.width * view.channels) {
    throw std::invalid_argument(quoted(a) + ": expected rows that do not overlap (strides[0] >= " +
                                std::to_string(view.width * view.channels) + "), got strides " +
                                tuple_string(a.strides));
  }
  return view;
}

// float32 / float16 (N, C, H, W), C-contiguous. `expected` describes the accepted form; when `rgb_frame` is
// set the shape must be (1, 3, H, W).
inline PlanarView planar_arg(const ArrayDesc& a, const char* expected, bool rgb_frame) {
  const std::string got = ", got " + describe(a);
  if (a.dtype != DType::kFloat32 && a.dtype != DType::kFloat16) {
    throw dtype_error(quoted(a) + ": expected " + expected + got);
  }
  if (a.shape.size() != 4 || (rgb_frame && (a.shape[0] != 1 || a.shape[1] != 3))) {
    throw std::invalid_argument(quoted(a) + ": expected " + expected + got);
  }
  check_not_empty(a, expected);
  check_side_limits(a);
  check_no_negative_strides(a);
  // np.frombuffer(..., offset=1) can build these; on a GPU a misaligned load would poison the whole context.
  if (reinterpret_cast<std::uintptr_t>(a.data) % static_cast<std::uintptr_t>(dtype_size(a.dtype)) != 0) {
    throw std::invalid_argument(quoted(a) + ": expected data aligned to its " + std::to_string(dtype_size(a.dtype)) +
                                "-byte elements, got a misaligned " + describe(a) + "; pass np.ascontiguousarray(" +
                                a.name + ")");
  }
  int64_t contiguous = dtype_size(a.dtype);
  for (size_t dim = a.shape.size(); dim-- > 0;) {
    if (stride_matters(a, dim) && a.strides[dim] != contiguous) {
      throw std::invalid_argument(quoted(a) + ": expected C-contiguous planes, got strides " +
                                  tuple_string(a.strides) + " for " + describe(a) + "; pass np.ascontiguousarray(" +
                                  a.name + ") or tensor.contiguous()");
    }
    contiguous *= a.shape[dim];
  }
  PlanarView view;
  view.data = a.data;
  view.batch = a.shape[0];
  view.channels = a.shape[1];
  view.height = a.shape[2];
  view.width = a.shape[3];
  view.dtype = a.dtype;
  view.device = a.device;
  return view;
}

inline void check_shape(const ArrayDesc& a, const std::vector<int64_t>& expected, const std::string& why) {
  if (a.shape != expected) {
    throw std::invalid_argument(quoted(a) + ": expected shape " + tuple_string(expected) + " (" + why + "), got " +
                                describe(a));
  }
}

inline void check_same_dtype(const ArrayDesc& a, const ArrayDesc& like) {
  if (a.dtype != like.dtype) {
    throw dtype_error(quoted(a) + ": expected " + like.dtype_label + " like " + quoted(like) + ", got " + describe(a));
  }
}

// All arrays of one call live on the same device (all host, or all on one CUDA device).
inline void check_same_device(std::initializer_list<const ArrayDesc*> arrays) {
  const ArrayDesc& first = **arrays.begin();
  for (const ArrayDesc* a : arrays) {
    if (a->device != first.device) {
      throw std::invalid_argument(quoted(*a) + " is on " + device_string(a->device) + " but " + quoted(first) +
                                  " is on " + device_string(first.device) + ": all arrays must be on the same device");
    }
  }
}

// [first byte, last byte + 1) an array can touch (strides already known to be non-negative).
inline std::pair<std::uintptr_t, std::uintptr_t> byte_span(const ArrayDesc& a) {
  std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(a.data);
  std::uintptr_t end = begin + static_cast<std::uintptr_t>(dtype_size(a.dtype));
  for (size_t dim = 0; dim < a.shape.size(); ++dim) {
    if (stride_matters(a, dim)) end += static_cast<std::uintptr_t>((a.shape[dim] - 1) * a.strides[dim]);
  }
  return {begin, end};
}

// No kernel here works in place: an output sharing memory with an input would read values it already wrote.
inline void check_no_overlap(const ArrayDesc& out, const ArrayDesc& in) {
  const auto a = byte_span(out);
  const auto b = byte_span(in);
  if (a.first < b.second && b.first < a.second) {
    throw std::invalid_argument(quoted(out) + " overlaps " + quoted(in) +
                                ": the output must not share memory with an input "
                                "(these kernels do not work in place)");
  }
}

}  // namespace se
