// Plain-data views of the arrays the kernels read and write: a pointer and its geometry, nothing else.
// No Python, torch or CUDA types, so the same views serve the CPU kernels, the CUDA kernels, the pybind11
// layer and the OBS bridge (ARCHITECTURE.md guideline 2, like flash-attention's Flash_fwd_params).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace se {

// Largest accepted side (height or width) of any input or output, in pixels. Mirrors config.MAX_SIDE.
constexpr int64_t kMaxSide = 16384;

// Device index of host memory; CUDA memory carries its CUDA device ordinal (>= 0).
constexpr int kHostDevice = -1;

enum class DType : std::uint8_t { kUInt8, kFloat16, kFloat32, kOther };

inline const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return "uint8";
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kOther: break;
  }
  return "unsupported dtype";
}

inline int64_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return 1;
    case DType::kFloat16: return 2;
    case DType::kFloat32: return 4;
    case DType::kOther: break;
  }
  return 0;
}

// A strided array as numpy or __cuda_array_interface__ describes it, before validation. The binding layer
// fills it from a Python object; checks.h turns it into one of the views below or throws.
struct ArrayDesc {
  const char* name = "";   // argument name, quoted in every message
  DType dtype = DType::kOther;
  std::string dtype_label;  // what the caller passed ("float64", "<i4"), for messages
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // bytes
  std::byte* data = nullptr;
  bool readonly = false;
  int device = kHostDevice;
  std::uintptr_t cuda_stream = 0;  // CUDA array interface v3 "stream" (0: none given)

  bool on_cuda() const { return device != kHostDevice; }
};

// uint8 image with interleaved channels: (height, width, channels), pixels contiguous (a pixel is
// `channels` bytes, the next pixel follows it), rows `row_stride` bytes apart (any positive value, so
// row-padded frames need no copy). Channel step 1; a 2-channel view can also address one plane of an
// interleaved pair (NV12 chroma), reading channel 0 only.
template <class T>
struct ImageViewT {
  T* data = nullptr;
  int64_t height = 0;
  int64_t width = 0;
  int64_t row_stride = 0;
  int channels = 0;
  int device = kHostDevice;

  T* row(int64_t y) const { return data + y * row_stride; }

  // A mutable view is usable wherever a read-only one is expected.
  template <class U, class = std::enable_if_t<std::is_same_v<T, const U>>>
  ImageViewT(const ImageViewT<U>& other)  // NOLINT(google-explicit-constructor)
      : data(other.data), height(other.height), width(other.width), row_stride(other.row_stride),
        channels(other.channels), device(other.device) {}
  ImageViewT() = default;
};
using ImageView = ImageViewT<std::uint8_t>;
using ConstImageView = ImageViewT<const std::uint8_t>;

// float32 / float16 planes (batch, channels, height, width), C-contiguous.
template <class T>
struct PlanarViewT {
  T* data = nullptr;
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  DType dtype = DType::kFloat32;
  int device = kHostDevice;

  int64_t planes() const { return batch * channels; }
  int64_t plane_size() const { return height * width; }

  template <class U, class = std::enable_if_t<std::is_same_v<T, const U>>>
  PlanarViewT(const PlanarViewT<U>& other)  // NOLINT(google-explicit-constructor)
      : data(other.data), batch(other.batch), channels(other.channels), height(other.height),
        width(other.width), dtype(other.dtype), device(other.device) {}
  PlanarViewT() = default;
};
using PlanarView = PlanarViewT<void>;
using ConstPlanarView = PlanarViewT<const void>;

}  // namespace se
