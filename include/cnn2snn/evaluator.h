// The reference evaluator: runs a QuantizedGraph with QuantizeML's integer semantics.
//
// This is the oracle a converted akida::Model is compared to, integer for integer. It is written
// independently of the Akida runtime, as a plain transcription of what QuantizeML (and the
// function bodies of the QuantizeML ONNX ops) compute, block by block, in int64:
//
//   x[..., c] <<= input_shift[c]                          (neural blocks with an input_shift)
//   acc = correlate(x, weights)  (padding_value[c] on padded positions of an InputConv2D, else 0)
//   acc = sat(acc, buffer_bits);  acc = sat(acc + bias[f], buffer_bits)
//   acc = max_pool(acc)                                    (padded positions ignored)
//   acc = clip(acc, 0, relu_max[f])                        (relu; unbounded when relu_max is empty)
//   acc = sum over (x, y) of acc                           (global average pooling: a sum)
//   out = output stage (quantized_graph.h), or sat(acc, buffer_bits) without one
//
// Add: sat((a << a_shift[c]) + (b << b_shift[c]), buffer_bits) (per-channel shifts, or one for
// all), optional ReLU, then the output stage.
// Concatenate: channel concatenation. Dequantizer: float32(x) * scales[c] in float32.
// Per-channel vectors of length 1 apply to every channel. In an OutputStage an empty `scale`
// means 1 and an empty `shift` means 0 (Add has no scales).
//
// Batches: akida::Batch, NHWC. Samples of a batch are consecutive frames (batch index = time):
// BufferTempConv / DepthwiseBufferTempConv keep a FIFO of their last fifo_size input frames
// (zeros initially, newest last), which persists across calls until reset().
//
// Errors: the constructor throws akida::ShapeError (inconsistent shapes or values) or
// akida::UnsupportedError (a field this evaluator would otherwise ignore, or a configuration whose
// int64 arithmetic could overflow), naming the graph's source, the block and the field. run*()
// and predict() throw akida::ShapeError when the batch does not fit the graph's input.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "akida/engine.h"
#include "akida/shapes.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

class Evaluator {
 public:
  // Copies the graph (the evaluator does not depend on its lifetime) and validates every block.
  explicit Evaluator(const QuantizedGraph& graph);
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  akida::Shape input_shape() const;
  // Output dims of a block; throws akida::ShapeError for an unknown name.
  akida::Shape output_shape(const std::string& block) const;

  // Every block's integer output, in graph order. A Dequantizer's entry is an empty Batch
  // (n = 0, no values): its output is float, see predict().
  std::vector<akida::Batch> run_all(const akida::Batch& inputs);
  // The output of the last block that is not a Dequantizer.
  akida::Batch run(const akida::Batch& inputs);
  // The last block's output as floats: a Dequantizer's floats, or the integers converted. When
  // `integers` is set, it also receives run()'s output, from the same pass.
  akida::FloatBatch predict(const akida::Batch& inputs, akida::Batch* integers = nullptr);

  // Float inputs through the graph's InputQuantizer:
  //   q = saturate(round_half_to_even(float32(x / scale[c])) + zero_point[c], bits, signed).
  // `inputs.shape` is always the logical (x, y, c) of the graph input; with channels_first_layout
  // the values are ordered (n, c, x, y) and are transposed to NHWC. Throws akida::UnsupportedError
  // when the graph has no InputQuantizer, akida::ShapeError on a shape mismatch or a NaN value.
  akida::Batch quantize_input(const akida::FloatBatch& inputs, bool channels_first_layout) const;

  // Clears the FIFOs of the temporal blocks (back to all-zero frames).
  void reset();
  // Advances `progress` by one per sample that run*() or predict() runs (it must outlive those
  // calls); nullptr stops.
  void set_progress(akida::Progress* progress);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnn2snn
