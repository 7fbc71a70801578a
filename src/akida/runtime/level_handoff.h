// The hand-off of activation levels from one layer to the next as bytes: a memory plan of the
// Engine (engine.cpp). A v1 layer with an activation outputs levels 0 .. 2^act_bits − 1 (at
// most 255), an Akida 2.0 layer with ReLU values within 0 .. 2^(output_bits − 1) − 1 (127 for
// 8 bits); when such a layer's output only feeds optimized layers of these kinds and is not one
// the Engine returns, its kernel writes the levels as bytes, (x, y, C) row-major like the int32
// tensor, and the next kernel stages them from there: a quarter of the memory traffic of writing
// an int32 tensor and reading it back to narrow it. Likewise an InputConvolutional (or
// InputConv2D) layer takes its uint8 image as bytes. Results are the same integers either way.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace akida::runtime {

// The low byte of each of n values (values within 0..255).
void narrow_to_bytes(const int32_t* values, int64_t n, uint8_t* out);

// The byte staging of a layer, where the layer before may write its levels directly (skipping
// the copy): `rows` rows of `row_items` pixels of `channels` bytes, row r at
// data + r · row_stride (the interior of the padded buffer the blocked kernels read).
struct StagedBytes {
  uint8_t* data = nullptr;
  int64_t rows = 0, row_items = 0, channels = 0, row_stride = 0;
};

// One sample's input of a layer: int32 values or bytes (exactly one is set), or, with
// staged_max >= 0, values within 0..staged_max already written to its byte_staging().
struct LevelsIn {
  const std::vector<int32_t>* ints = nullptr;
  const std::vector<uint8_t>* bytes = nullptr;
  int32_t staged_max = -1;
};

// Where a layer's output for one sample goes: int32 values, bytes or the next layer's staging
// (exactly one is set; the last two only when outputs_levels()).
struct LevelsOut {
  std::vector<int32_t>* ints = nullptr;
  std::vector<uint8_t>* bytes = nullptr;
  const StagedBytes* staged = nullptr;
};

// Implemented by the optimized kernels of InputConvolutional, Convolutional,
// SeparableConvolutional, InputConv2D, Conv2D and DepthwiseConv2D (fast_kernels.cpp), besides
// LayerKernel.
class LevelHandoff {
 public:
  virtual ~LevelHandoff() = default;
  // Whether every output value is an activation level within 0..255 (the layer has an
  // activation): then eval_levels() may write bytes.
  virtual bool outputs_levels() const = 0;
  // The highest level (outputs_levels()).
  virtual int32_t max_level() const = 0;
  // Where the layer before may write this layer's next input, values within 0..max_value, when
  // this layer can take it there (its sums then always fit the optimized path); else nothing.
  virtual std::optional<StagedBytes> byte_staging(int32_t max_value) = 0;
  // LayerKernel::eval() of a single-input layer, either side in int32 or in bytes.
  virtual void eval_levels(const LevelsIn& in, const LevelsOut& out) = 0;
};

}  // namespace akida::runtime
