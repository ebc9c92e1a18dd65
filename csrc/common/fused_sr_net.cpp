#include "common/fused_sr_net.h"

#include <stdexcept>

namespace se {

FusedIsa parse_fused_isa(const std::string& name) {
  for (const FusedIsa isa : {FusedIsa::kGeneric, FusedIsa::kAvx2, FusedIsa::kAvx512}) {
    if (name == fused_isa_name(isa)) return isa;
  }
  throw std::invalid_argument("`isa`: expected one of 'auto', 'avx512', 'avx2', 'generic', got '" + name + "'");
}

const char* fused_isa_name(FusedIsa isa) {
  switch (isa) {
    case FusedIsa::kAvx2: return "avx2";
    case FusedIsa::kAvx512: return "avx512";
    case FusedIsa::kGeneric: break;
  }
  return "generic";
}

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
  return net;
}

}  // namespace se
