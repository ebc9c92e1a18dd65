// Every expression here mirrors one NumPy expression of reference.resize_taps, in the same order and in
// double precision (built with -ffp-contract=off), so the weights are bit-identical to the reference's.
#include "common/resize_taps.h"

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace se {

ResizeMethod parse_resize_method(const std::string& name) {
  if (name == "bicubic") return ResizeMethod::kBicubic;
  if (name == "area") return ResizeMethod::kArea;
  throw std::invalid_argument("`method`: expected one of 'bicubic', 'area', got '" + name + "'");
}

namespace {

// reference._keys_cubic. NumPy multiplies each branch by a 0/1 mask; a product with 1.0 is exact and a
// masked-out branch only contributes a (signed) zero, so selecting the branch gives the same value.
double keys_cubic(double x) {
  const double ax = std::fabs(x);
  const double ax2 = ax * ax;
  const double ax3 = ax2 * ax;
  if (ax <= 1.0) return 1.5 * ax3 - 2.5 * ax2 + 1.0;
  if (ax <= 2.0) return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
  return 0.0;
}

// NumPy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src, PW_BLOCKSIZE 128), which is what
// `weights.sum(axis=1)` runs on each contiguous row, added to a zero initial value. A plain loop would round
// differently for rows of 3 or more taps.
double pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.0;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

void normalize_rows(std::vector<double>& weight, int64_t rows, int64_t taps) {
  for (int64_t i = 0; i < rows; ++i) {
    double* row = weight.data() + i * taps;
    const double total = 0.0 + pairwise_sum(row, taps);
    for (int64_t k = 0; k < taps; ++k) row[k] = row[k] / total;
  }
}

// Symmetric border: ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ... (reference: mirror[mod(idx - 1, 2n)]).
int64_t mirror_index(int64_t one_based, int64_t size) {
  int64_t m = (one_based - 1) % (2 * size);
  if (m < 0) m += 2 * size;
  return m < size ? m : 2 * size - 1 - m;
}

ResizeTaps bicubic_taps(int64_t in_size, int64_t out_size, bool antialias) {
  const double scale = static_cast<double>(out_size) / static_cast<double>(in_size);
  const bool stretch = scale < 1.0 && antialias;
  const double kernel_width = stretch ? 4.0 / scale : 4.0;
  const int64_t taps = static_cast<int64_t>(std::ceil(kernel_width)) + 2;
  const double shift = 0.5 * (1.0 - 1.0 / scale);

  std::vector<double> weight(static_cast<size_t>(out_size * taps));
  std::vector<int64_t> source(weight.size());
  for (int64_t i = 0; i < out_size; ++i) {
    const double u = static_cast<double>(i + 1) / scale + shift;
    const double left = std::floor(u - kernel_width / 2.0);
    for (int64_t k = 0; k < taps; ++k) {
      const double idx = left + static_cast<double>(k);
      const double dist = u - idx;
      weight[i * taps + k] = stretch ? scale * keys_cubic(scale * dist) : keys_cubic(dist);
      source[i * taps + k] = mirror_index(static_cast<int64_t>(idx), in_size);
    }
  }
  normalize_rows(weight, out_size, taps);

  // Drop the tap columns that are zero for every output (reference: keep = any(weights != 0, axis=0)).
  std::vector<int64_t> kept;
  for (int64_t k = 0; k < taps; ++k) {
    for (int64_t i = 0; i < out_size; ++i) {
      if (weight[i * taps + k] != 0.0) {
        kept.push_back(k);
        break;
      }
    }
  }
  ResizeTaps out;
  out.taps = static_cast<int64_t>(kept.size());
  out.index.reserve(static_cast<size_t>(out_size * out.taps));
  out.weight.reserve(static_cast<size_t>(out_size * out.taps));
  for (int64_t i = 0; i < out_size; ++i) {
    for (const int64_t k : kept) {
      out.index.push_back(static_cast<std::int32_t>(source[i * taps + k]));
      out.weight.push_back(weight[i * taps + k]);
    }
  }
  return out;
}

ResizeTaps area_taps(int64_t in_size, int64_t out_size) {
  const double step = static_cast<double>(in_size) / static_cast<double>(out_size);
  const int64_t taps = static_cast<int64_t>(std::ceil(step)) + 1;
  ResizeTaps out;
  out.taps = taps;
  out.weight.resize(static_cast<size_t>(out_size * taps));
  out.index.resize(out.weight.size());
  for (int64_t i = 0; i < out_size; ++i) {
    const double start = static_cast<double>(i) * step;
    const double end = start + step;
    const int64_t first = static_cast<int64_t>(std::floor(start));
    for (int64_t k = 0; k < taps; ++k) {
      const int64_t idx = first + k;
      const double lo = std::fmax(start, static_cast<double>(idx));
      const double hi = std::fmin(end, static_cast<double>(idx) + 1.0);
      const double overlap = hi - lo;
      out.weight[i * taps + k] = (idx < in_size && overlap > 0.0) ? overlap : 0.0;
      out.index[i * taps + k] = static_cast<std::int32_t>(idx < in_size ? idx : in_size - 1);
    }
  }
  normalize_rows(out.weight, out_size, taps);
  return out;
}

}  // namespace

std::shared_ptr<const ResizeTaps> resize_taps(int64_t in_size, int64_t out_size, ResizeMethod method,
                                              bool antialias) {
  if (in_size < 1 || out_size < 1) {
    throw std::invalid_argument("resize sizes must be >= 1, got " + std::to_string(in_size) + " -> " +
                                std::to_string(out_size));
  }
  // Antialiasing changes nothing for area weights or when not shrinking: share one entry.
  if (method == ResizeMethod::kArea || out_size >= in_size) antialias = true;
  using Key = std::tuple<int64_t, int64_t, ResizeMethod, bool>;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const ResizeTaps>> cache;
  const Key key{in_size, out_size, method, antialias};
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto hit = cache.find(key);
    if (hit != cache.end()) return hit->second;
  }
  auto taps = std::make_shared<ResizeTaps>(method == ResizeMethod::kArea ? area_taps(in_size, out_size)
                                                                         : bicubic_taps(in_size, out_size, antialias));
  taps->in_size = in_size;
  taps->out_size = out_size;
  taps->method = method;
  taps->antialias = antialias;

  std::lock_guard<std::mutex> lock(mutex);
  // A process that resizes to ever new sizes (an evaluation sweep) must not grow without bound; the
  // working set of a live stream is a handful of entries.
  if (cache.size() >= 256) cache.clear();
  cache.emplace(key, taps);
  return taps;
}

ResizePlan make_resize_plan(int64_t in_height, int64_t in_width, int64_t out_height, int64_t out_width,
                            ResizeMethod method, bool antialias) {
  ResizePlan plan;
  plan.in_height = in_height;
  plan.in_width = in_width;
  plan.out_height = out_height;
  plan.out_width = out_width;
  const double scale_h = static_cast<double>(out_height) / static_cast<double>(in_height);
  const double scale_w = static_cast<double>(out_width) / static_cast<double>(in_width);
  const int order[2] = {scale_w < scale_h ? 1 : 0, scale_w < scale_h ? 0 : 1};
  for (const int axis : order) {
    const int64_t in = axis == 0 ? in_height : in_width;
    const int64_t out = axis == 0 ? out_height : out_width;
    if (in != out) plan.passes.push_back({axis, resize_taps(in, out, method, antialias)});
  }
  return plan;
}

}  // namespace se
