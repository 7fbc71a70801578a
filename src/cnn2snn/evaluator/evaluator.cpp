// The reference evaluator's driver: input checks, the sample-by-sample walk over the blocks, and
// the input quantizer.
#include "cnn2snn/evaluator.h"

#include <algorithm>
#include <cmath>

#include "akida/errors.h"
#include "akida/progress.h"
#include "cnn2snn/evaluator/evaluator_internal.h"

namespace cnn2snn {

using namespace evaluator_detail;

struct Evaluator::Impl {
  QuantizedGraph graph;
  std::vector<PreparedBlock> blocks;
  int last_integer = -1;  // index of the last block that is not a Dequantizer
  akida::Progress* progress = nullptr;  // advanced once per sample run

  std::string input_context() const {
    return (graph.source.empty() ? "" : graph.source + ": ") + "input batch: ";
  }

  void check_batch(const akida::Batch& inputs) const;
  // Runs every sample in order (batch index = time); fills every integer block's batch and, when
  // the last block is a Dequantizer, its floats.
  void run_samples(const akida::Batch& inputs, std::vector<akida::Batch>& ints,
                   akida::FloatBatch* floats);
};

void Evaluator::Impl::check_batch(const akida::Batch& inputs) const {
  if (inputs.shape != graph.input_shape)
    throw akida::ShapeError(input_context() + "shape " + akida::to_string(inputs.shape) +
                            " differs from the graph input " + akida::to_string(graph.input_shape));
  if (inputs.n < 0 ||
      static_cast<int64_t>(inputs.values.size()) != inputs.n * graph.input_shape.size())
    throw akida::ShapeError(input_context() + std::to_string(inputs.values.size()) +
                            " values for " + std::to_string(inputs.n) + " samples of " +
                            akida::to_string(inputs.shape));
  // The overflow proofs of prepare.cpp start from this range.
  const int64_t lo = graph.input_signed ? signed_min(graph.input_bits) : 0;
  const int64_t hi =
      graph.input_signed ? signed_max(graph.input_bits) : (int64_t{1} << graph.input_bits) - 1;
  for (size_t i = 0; i < inputs.values.size(); ++i)
    if (inputs.values[i] < lo || inputs.values[i] > hi)
      throw akida::ShapeError(input_context() + "value " + std::to_string(inputs.values[i]) +
                              " at index " + std::to_string(i) + " is outside [" +
                              std::to_string(lo) + ", " + std::to_string(hi) + "] (" +
                              std::to_string(graph.input_bits) +
                              (graph.input_signed ? "-bit signed)" : "-bit unsigned)"));
}

void Evaluator::Impl::run_samples(const akida::Batch& inputs, std::vector<akida::Batch>& ints,
                                  akida::FloatBatch* floats) {
  check_batch(inputs);
  ints.assign(blocks.size(), akida::Batch{});
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (blocks[b].block->kind == BlockKind::Dequantizer) continue;
    ints[b].n = inputs.n;
    ints[b].shape = blocks[b].output_shape;
    ints[b].values.reserve(static_cast<size_t>(inputs.n * blocks[b].output_shape.size()));
  }
  const PreparedBlock& last = blocks.back();
  if (floats) *floats = {inputs.n, last.output_shape, {}};

  const auto sample_size = static_cast<size_t>(graph.input_shape.size());
  std::vector<std::vector<int64_t>> outputs(blocks.size());
  for (int64_t n = 0; n < inputs.n; ++n) {
    const auto first = inputs.values.begin() + static_cast<std::ptrdiff_t>(n * sample_size);
    const std::vector<int64_t> sample(first, first + static_cast<std::ptrdiff_t>(sample_size));
    for (size_t b = 0; b < blocks.size(); ++b) {
      PreparedBlock& block = blocks[b];
      std::vector<const std::vector<int64_t>*> in;
      for (int index : block.inbound)
        in.push_back(index == kModelInput ? &sample : &outputs[static_cast<size_t>(index)]);
      if (block.block->kind == BlockKind::Dequantizer) {
        if (floats && b + 1 == blocks.size()) {
          const std::vector<float> values = eval_dequantizer(block, *in[0]);
          floats->values.insert(floats->values.end(), values.begin(), values.end());
        }
        continue;
      }
      outputs[b] = eval_block(block, in);
      // Every integer output is saturated to at most 32 bits (checked in prepare.cpp).
      for (int64_t v : outputs[b]) ints[b].values.push_back(static_cast<int32_t>(v));
    }
    if (progress) progress->advance();
  }
  if (floats && last.block->kind != BlockKind::Dequantizer) {
    const akida::Batch& out = ints.back();
    floats->values.assign(out.values.begin(), out.values.end());
  }
}

Evaluator::Evaluator(const QuantizedGraph& graph) : impl_(std::make_unique<Impl>()) {
  impl_->graph = graph;
  // Prepared blocks point into impl_->graph, which lives as long as they do.
  impl_->blocks = prepare_blocks(impl_->graph);
  validate_input_quantizer(impl_->graph);
  for (size_t b = 0; b < impl_->blocks.size(); ++b)
    if (impl_->blocks[b].block->kind != BlockKind::Dequantizer)
      impl_->last_integer = static_cast<int>(b);
  if (impl_->last_integer < 0)
    throw akida::ShapeError((graph.source.empty() ? "" : graph.source + ": ") +
                            "graph: field 'blocks': no block has an integer output");
}

Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

akida::Shape Evaluator::input_shape() const { return impl_->graph.input_shape; }

akida::Shape Evaluator::output_shape(const std::string& block) const {
  for (const PreparedBlock& p : impl_->blocks)
    if (p.block->name == block) return p.output_shape;
  throw akida::ShapeError((impl_->graph.source.empty() ? "" : impl_->graph.source + ": ") +
                          "unknown block '" + block + "'");
}

std::vector<akida::Batch> Evaluator::run_all(const akida::Batch& inputs) {
  std::vector<akida::Batch> ints;
  impl_->run_samples(inputs, ints, nullptr);
  return ints;
}

akida::Batch Evaluator::run(const akida::Batch& inputs) {
  std::vector<akida::Batch> ints = run_all(inputs);
  return std::move(ints[static_cast<size_t>(impl_->last_integer)]);
}

akida::FloatBatch Evaluator::predict(const akida::Batch& inputs, akida::Batch* integers) {
  std::vector<akida::Batch> ints;
  akida::FloatBatch floats;
  impl_->run_samples(inputs, ints, &floats);
  if (integers) *integers = std::move(ints[static_cast<size_t>(impl_->last_integer)]);
  return floats;
}

akida::Batch Evaluator::quantize_input(const akida::FloatBatch& inputs,
                                       bool channels_first_layout) const {
  const QuantizedGraph& graph = impl_->graph;
  const std::string context =
      (graph.source.empty() ? "" : graph.source + ": ") + "input quantizer: ";
  if (!graph.input_quantizer)
    throw akida::UnsupportedError(context + "the graph has no input quantizer");
  const InputQuantizer& q = *graph.input_quantizer;
  const akida::Shape s = graph.input_shape;
  if (inputs.shape != s || inputs.n < 0 ||
      static_cast<int64_t>(inputs.values.size()) != inputs.n * s.size())
    throw akida::ShapeError(context + "batch of " + std::to_string(inputs.n) + " samples of " +
                            akida::to_string(inputs.shape) + " with " +
                            std::to_string(inputs.values.size()) + " values does not fit " +
                            akida::to_string(s));
  const int64_t lo = q.is_signed ? signed_min(q.bits) : 0;
  const int64_t hi = q.is_signed ? signed_max(q.bits) : (int64_t{1} << q.bits) - 1;
  akida::Batch out{inputs.n, s, std::vector<int32_t>(inputs.values.size())};
  for (int64_t n = 0; n < inputs.n; ++n)
    for (int64_t x = 0; x < s.x; ++x)
      for (int64_t y = 0; y < s.y; ++y)
        for (int64_t c = 0; c < s.c; ++c) {
          const int64_t nhwc = ((n * s.x + x) * s.y + y) * s.c + c;
          const int64_t source = channels_first_layout ? ((n * s.c + c) * s.x + x) * s.y + y : nhwc;
          const float value = inputs.values[static_cast<size_t>(source)];
          if (std::isnan(value))
            throw akida::ShapeError(context + "value at index " + std::to_string(source) +
                                    " is NaN");
          const float scale = q.scale.size() == 1 ? q.scale[0] : q.scale[static_cast<size_t>(c)];
          const int64_t zero_point = q.zero_point.empty() ? 0
                                     : q.zero_point.size() == 1
                                         ? q.zero_point[0]
                                         : q.zero_point[static_cast<size_t>(c)];
          // The division is float32, as in ONNX QuantizeLinear; rounding and saturation are
          // exact in double (any float32 is a double, any int within 2^53 too).
          const float ratio = value / scale;
          const double rounded =
              round_half_to_even(static_cast<double>(ratio)) + static_cast<double>(zero_point);
          const double clamped =
              std::clamp(rounded, static_cast<double>(lo), static_cast<double>(hi));
          out.values[static_cast<size_t>(nhwc)] = static_cast<int32_t>(clamped);
        }
  return out;
}

void Evaluator::set_progress(akida::Progress* progress) { impl_->progress = progress; }

void Evaluator::reset() {
  for (PreparedBlock& block : impl_->blocks)
    if (!block.fifo.empty()) reset_fifo(block);
}

}  // namespace cnn2snn
