// Builds the project's embedded default model: an Akida 2.0 DS-CNN keyword-spotting network
// with the architecture of BrainChip's zoo model ds_cnn_kws_i8_w8_a8 (input 49x10x1; conv 5x5
// stride 2 to 64 channels; four depthwise-separable blocks; global average pooling; dense to 33
// classes; dequantizer), and deterministic pseudo-random integer weights. It exercises every
// Akida 2.0 layer kind the zoo's DS-CNN uses, so the demo and benchmarks run on a realistic
// shape without needing BrainChip's files.
//
// Usage: make_ds_cnn_v2 OUT.fbz
// The weights are not trained: outputs are meaningful as integers, not as keyword classes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/model.h"

namespace {

using akida::DType;
using akida::Layer;
using akida::LayerKind;
using akida::Variable;

// xorshift64*: reproducible on every platform, unlike std:: distributions.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }
  int32_t uniform(int32_t lo, int32_t hi) {  // inclusive
    return lo + static_cast<int32_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

Variable make_variable(const std::string& name, std::vector<uint32_t> shape, DType dtype,
                       const std::vector<int32_t>& values) {
  Variable v{name, std::move(shape), dtype, {}};
  for (int32_t value : values) {
    if (akida::dtype_size(dtype) == 4) {
      uint8_t bytes[4];
      std::memcpy(bytes, &value, 4);
      v.data.insert(v.data.end(), bytes, bytes + 4);
    } else {
      v.data.push_back(static_cast<uint8_t>(value));
    }
  }
  return v;
}

Variable make_float_variable(const std::string& name, const std::vector<float>& values) {
  Variable v{name, {static_cast<uint32_t>(values.size())}, DType::Float32, {}};
  for (float value : values) {
    uint8_t bytes[4];
    std::memcpy(bytes, &value, 4);
    v.data.insert(v.data.end(), bytes, bytes + 4);
  }
  return v;
}

std::vector<int32_t> random_values(Random& rng, size_t count, int32_t lo, int32_t hi) {
  std::vector<int32_t> values(count);
  for (auto& v : values) v = rng.uniform(lo, hi);
  return values;
}

// Shift that brings an accumulator of `fan_in` products of int8 weights (std ~73) and inputs of
// standard deviation `input_std`, multiplied by an output scale of ~192, to a std of ~32: the
// outputs then use the int8 range without saturating most of the time.
int32_t output_shift_for(double fan_in, double input_std) {
  const double acc_std = std::sqrt(fan_in) * 73.0 * input_std * 192.0;
  return -static_cast<int32_t>(std::lround(std::log2(acc_std / 32.0)));
}

// The variables every Akida 2.0 neural layer carries (bias, scales, shifts, optional ReLU max).
void add_output_stage(Layer& layer, Random& rng, uint32_t channels, int32_t shift, bool relu) {
  layer.variables.push_back(make_variable("bias", {channels}, DType::Int8,
                                          random_values(rng, channels, -64, 64)));
  layer.variables.push_back(make_variable("bias_shift", {channels}, DType::UInt8,
                                          random_values(rng, channels, 0, 6)));
  if (relu) {
    // max_value << max_value_shift is the ReLU clip in accumulator units. With the shift above
    // the accumulator's std is about 2^(-shift-2.6); 192 << (-shift-9) puts the clip near 3 std,
    // so it bites on some positions, as a trained ReLU6 does.
    layer.variables.push_back(make_variable("max_value", {channels}, DType::UInt8,
                                            std::vector<int32_t>(channels, 192)));
    layer.variables.push_back(make_variable("max_value_shift", {channels}, DType::UInt8,
                                            std::vector<int32_t>(channels, -shift - 9)));
  }
  layer.variables.push_back(make_variable("output_scales", {channels}, DType::UInt8,
                                          random_values(rng, channels, 128, 255)));
  layer.variables.push_back(make_variable("output_shift", {channels}, DType::Int8,
                                          std::vector<int32_t>(channels, shift)));
}

void sort_variables(Layer& layer) {
  std::sort(layer.variables.begin(), layer.variables.end(),
            [](const Variable& a, const Variable& b) { return a.name < b.name; });
}

Layer conv_layer(const std::string& name, LayerKind kind, akida::Parameters params) {
  Layer layer;
  layer.name = name;
  layer.kind = kind;
  params["buffer_bits"] = 28;
  params["post_op_buffer_bits"] = 32;
  params["padding"] = 1;  // Same
  params["pool_size"] = -1;
  params["pool_stride"] = -1;
  params.try_emplace("pool_type", 0);
  params.try_emplace("output_bits", 8);
  layer.parameters = std::move(params);
  return layer;
}

akida::Model build_ds_cnn(uint64_t seed) {
  Random rng(seed);
  akida::Model model;
  constexpr uint32_t kChannels = 64, kClasses = 33;

  Layer conv0 = conv_layer("conv_0", LayerKind::InputConv2D,
                           {{"activation", 1}, {"filters", kChannels}, {"input_channels", 1},
                            {"input_x", 49}, {"input_y", 10}, {"kernel_size", 5},
                            {"kernel_stride", 2}});
  conv0.variables.push_back(make_variable("weights", {5, 5, 1, kChannels}, DType::Int8,
                                          random_values(rng, 25 * kChannels, -127, 127)));
  conv0.variables.push_back(make_variable("padding_value", {1}, DType::UInt8, {0}));
  add_output_stage(conv0, rng, kChannels, output_shift_for(25, 74), true);
  model.layers.push_back(conv0);

  std::string previous = "conv_0";
  for (int block = 1; block <= 4; ++block) {
    const std::string dw_name = "dw_separable_" + std::to_string(block);
    const std::string pw_name = "pw_separable_" + std::to_string(block);
    Layer dw = conv_layer(dw_name, LayerKind::DepthwiseConv2D,
                          {{"activation", 1}, {"kernel_size", 3}, {"kernel_stride", 1}});
    dw.inbound = {previous};
    dw.variables.push_back(make_variable("weights", {3, 3, kChannels, 1}, DType::Int8,
                                         random_values(rng, 9 * kChannels, -127, 127)));
    dw.variables.push_back(make_variable("input_shift", {kChannels}, DType::UInt8,
                                         std::vector<int32_t>(kChannels, 0)));
    add_output_stage(dw, rng, kChannels, output_shift_for(9, 40), true);
    model.layers.push_back(dw);

    const bool last = block == 4;
    Layer pw = conv_layer(pw_name, LayerKind::Conv2D,
                          {{"activation", 1}, {"filters", kChannels}, {"kernel_size", 1},
                           {"kernel_stride", 1}, {"pool_type", last ? 2 : 0}});
    pw.inbound = {dw_name};
    pw.variables.push_back(make_variable("weights", {1, 1, kChannels, kChannels}, DType::Int8,
                                         random_values(rng, kChannels * kChannels, -127, 127)));
    pw.variables.push_back(make_variable("input_shift", {kChannels}, DType::UInt8,
                                         random_values(rng, kChannels, 0, 1)));
    // The global average pool sums 25x5 positions; its 1/125 is folded into the shift (~2^-7).
    const int32_t gap_shift = last ? -7 : 0;
    add_output_stage(pw, rng, kChannels, output_shift_for(kChannels, 40) + gap_shift, true);
    model.layers.push_back(pw);
    previous = pw_name;
  }

  Layer dense;
  dense.name = "dense_5";
  dense.kind = LayerKind::Dense1D;
  dense.inbound = {previous};
  dense.parameters = {{"activation", 0}, {"buffer_bits", 28}, {"output_bits", 28},
                      {"post_op_buffer_bits", 32}, {"units", kClasses}};
  dense.variables.push_back(make_variable("weights", {kChannels, kClasses}, DType::Int8,
                                          random_values(rng, kChannels * kClasses, -127, 127)));
  dense.variables.push_back(make_variable("bias", {kClasses}, DType::Int8,
                                          random_values(rng, kClasses, -64, 64)));
  dense.variables.push_back(make_variable("bias_shift", {kClasses}, DType::UInt8,
                                          std::vector<int32_t>(kClasses, 4)));
  dense.variables.push_back(make_variable("input_shift", {kChannels}, DType::UInt8,
                                          std::vector<int32_t>(kChannels, 0)));
  // A raw-accumulator output, as BrainChip's converter makes for a Dense1D feeding a Dequantizer.
  dense.variables.push_back(make_variable("output_scales", {kClasses}, DType::UInt8,
                                          std::vector<int32_t>(kClasses, 1)));
  dense.variables.push_back(make_variable("output_shift", {kClasses}, DType::Int8,
                                          std::vector<int32_t>(kClasses, 0)));
  model.layers.push_back(dense);

  Layer dequantizer;
  dequantizer.name = "dequantizer";
  dequantizer.kind = LayerKind::Dequantizer;
  dequantizer.inbound = {"dense_5"};
  dequantizer.variables.push_back(make_float_variable("scales", std::vector<float>(kClasses, 1.0f / 65536)));
  model.layers.push_back(dequantizer);

  for (auto& layer : model.layers) sort_variables(layer);
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_ds_cnn_v2 OUT.fbz\n";
    return 1;
  }
  try {
    akida::write_fbz(build_ds_cnn(0x5eed), argv[1]);
    std::cout << "Wrote " << argv[1] << "\n";
  } catch (const std::exception& e) {
    std::cerr << "make_ds_cnn_v2: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
