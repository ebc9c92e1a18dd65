// The network the fused super-resolution kernel runs, with its weights packed once into the layout the kernel
// reads. Only one shape is supported: SRNet (python/streamenhance/models/archs/sr_net.py) of tier "tiny" at x2,
// i.e. num_rrdb 1, num_rdb 1, num_dense 2, with F = kFeat trunk channels and G = kGrowth growth channels (below):
//
//   f0    = lrelu(conv_first(x))                        3 -> F
//   d1    = lrelu(dense0(f0))                           F -> G
//   trunk = f0 + 0.2 * (f0 + 0.2 * dense1([f0, d1]))    F + G -> F   (dense block, then the RRDB's outer skip)
//   act   = lrelu(f0 + conv_body(trunk))                F -> F
//   res   = pixel_shuffle(conv_up(act), 2)              F -> 12 = 3 colours x 2 x 2
//
// all 3x3 convolutions with zero padding 1, LeakyReLU slope 0.2. Plain data: no Python, torch or CUDA types.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace se {

namespace fused_sr {

constexpr int kLayers = 5;
constexpr int kScale = 2;
// Output channels per packed weight group: the kernel keeps one group's accumulators in registers.
constexpr int kGroup = 4;
// Convolutions read up to 5 layers deep: a tile needs 5 input pixels of context on each side.
constexpr int kHalo = kLayers;

// The layers in execution order, as named in SRNet's state dict.
struct LayerShape {
  const char* name;
  int in;
  int out;
};
// Trunk channels (num_feat), dense-block growth, and conv_up's outputs (3 colours x 2 x 2). Both kernels size their
// buffers from these; the layer list below follows from them.
constexpr int kFeat = 16;
constexpr int kGrowth = 12;
constexpr int kUp = 3 * kScale * kScale;
static_assert(kFeat % kGroup == 0 && kGrowth % kGroup == 0 && kUp % kGroup == 0,
              "every layer's outputs come in whole weight groups");

inline constexpr std::array<LayerShape, kLayers> kShapes{{
    {"conv_first", 3, kFeat},
    {"trunk.0.blocks.0.convs.0", kFeat, kGrowth},
    {"trunk.0.blocks.0.convs.1", kFeat + kGrowth, kFeat},
    {"conv_body", kFeat, kFeat},
    {"conv_up", kFeat, kUp},
}};

// What the messages call this shape: "SRNet tier tiny x2 (num_feat F, num_rrdb 1, num_rdb 1, num_dense 2, growth G)".
std::string shape_description();

}  // namespace fused_sr

// Which instruction set the CPU kernel uses: portable C++, AVX2+FMA, or AVX-512F.
enum class FusedIsa : std::uint8_t { kGeneric, kAvx2, kAvx512 };

// "generic" | "avx2" | "avx512" -> the ISA; anything else throws std::invalid_argument naming the choices.
FusedIsa parse_fused_isa(const std::string& name);
const char* fused_isa_name(FusedIsa isa);

// Packed weights. weight[l] is [out / kGroup][in][3][3][kGroup]: group g's 4 outputs are adjacent, so the kernel
// broadcasts them in order.
struct FusedSRNet {
  std::array<std::vector<float>, fused_sr::kLayers> weight;
  std::array<std::vector<float>, fused_sr::kLayers> bias;
  FusedIsa isa = FusedIsa::kGeneric;
  // FNV-1a of every packed float: names the network's device copies (cuda/fused_sr.cu) without owning them.
  std::uint64_t digest = 0;
};

// weights[l]: PyTorch layout (out, in, 3, 3) of layer l of kShapes, C-contiguous float32; biases[l]: (out,).
// Shapes are the caller's to check (the binding layer does, against kShapes).
FusedSRNet pack_fused_sr_net(const std::array<const float*, fused_sr::kLayers>& weights,
                             const std::array<const float*, fused_sr::kLayers>& biases, FusedIsa isa);

}  // namespace se
