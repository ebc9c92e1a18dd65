// Resize weights, computed on the host exactly as python/streamenhance/native/reference.py does (MATLAB
// imresize: Keys cubic a = -0.5, antialiased on downscale, mirror border, all-zero tap columns dropped; or
// area overlap weights), so the kernels only gather and sum.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace se {

enum class ResizeMethod : std::uint8_t { kBicubic, kArea };

// "bicubic" | "area"; anything else throws std::invalid_argument naming the allowed values.
ResizeMethod parse_resize_method(const std::string& name);

// One dimension: output i reads source rows/columns index[i * taps + k] with weight[i * taps + k], and the
// kernels sum k = 0, 1, ... in this order (the order is part of the bit-exact contract).
struct ResizeTaps {
  int64_t in_size = 0;
  int64_t out_size = 0;
  ResizeMethod method = ResizeMethod::kBicubic;
  bool antialias = true;
  int64_t taps = 0;
  std::vector<std::int32_t> index;
  std::vector<double> weight;  // summed in double by every kernel, as the reference does
};

// Cached by (in, out, method, antialias); the entries are immutable and shared.
std::shared_ptr<const ResizeTaps> resize_taps(int64_t in_size, int64_t out_size, ResizeMethod method,
                                              bool antialias);

// One separable pass along `axis` (0: height, 1: width).
struct ResizePass {
  int axis = 0;
  std::shared_ptr<const ResizeTaps> taps;
};

// A whole 2-D resize: the dimension with the smaller scale first (height first on ties), a dimension whose
// size does not change is skipped. No passes at all means a plain copy.
struct ResizePlan {
  int64_t in_height = 0;
  int64_t in_width = 0;
  int64_t out_height = 0;
  int64_t out_width = 0;
  std::vector<ResizePass> passes;
};

ResizePlan make_resize_plan(int64_t in_height, int64_t in_width, int64_t out_height, int64_t out_width,
                            ResizeMethod method, bool antialias);

}  // namespace se
