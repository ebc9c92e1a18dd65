#include "common/fused_sr_net.h"

#include <stdexcept>
#include <string>

namespace se {

FusedIsa parse_fused_isa(const std::string& name) {
  for (const FusedIsa isa : {FusedIsa::kGeneric, FusedIsa::kAvx2, FusedIsa::kAvx512}) {
    if (name == fused_isa_name(isa)) return isa;
  }
  throw std::invalid_argument("`isa`: expected one of 'auto', 'avx512', 'avx2', 'generic', got '" + name + "'");
}

namespace fused_sr {

std::string shape_description() {
  return "SRNet tier tiny x2 (num_feat " + std::to_string(kFeat) + ", num_rrdb 1, num_rdb 1, num_dense 2, growth " +
         std::to_string(kGrowth) + ")";
}

}  // namespace fused_sr

const char* fused_isa_name(FusedIsa isa) {
  switch (isa) {
    case FusedIsa::kAvx2: return "avx2";
    case FusedIsa::kAvx512: return "avx512";
    case FusedIsa::kGeneric: break;
  }
  return "generic";
}

namespace {

std::uint64_t digest_of(const FusedSRNet& net) {
  std::uint64_t hash = 14695981039346656037ull;
  const auto mix = [&hash](const std::vector<float>& values) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
    for (size_t i = 0; i < values.size() * sizeof(float); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  for (size_t l = 0; l < fused_sr::kLayers; ++l) {
    mix(net.weight[l]);
    mix(net.bias[l]);
  }
  return hash;
}

}  // namespace

FusedSRNet pack_fused_sr_net(const std::array<const float*, fused_sr::kLayers>& weights,
                             const std::array<const float*, fused_sr::kLayers>& biases, FusedIsa isa) {
  using fused_sr::kGroup;
  FusedSRNet net;
  net.isa = isa;
  for (size_t l = 0; l < fused_sr::kLayers; ++l) {
    const int in = fused_sr::kShapes[l].in;
    const int out = fused_sr::kShapes[l].out;
    std::vector<float>& packed = net.weight[l];
    packed.resize(static_cast<size_t>(out * in * 9));
    size_t k = 0;
    for (int g = 0; g < out / kGroup; ++g) {
      for (int ci = 0; ci < in; ++ci) {
        for (int tap = 0; tap < 9; ++tap) {
          for (int j = 0; j < kGroup; ++j) {
            const int co = g * kGroup + j;
            packed[k++] = weights[l][(co * in + ci) * 9 + tap];
          }
        }
      }
    }
    net.bias[l].assign(biases[l], biases[l] + out);
  }
  net.digest = digest_of(net);
  return net;
}

}  // namespace se
