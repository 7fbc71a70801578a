// Model inputs from .npy arrays or a random generator, in the integer form both the reference
// evaluator and the Akida runtime take.
#include <algorithm>
#include <random>

#include "akida/errors.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/pipeline.h"

namespace cnn2snn {
namespace {

int64_t input_min(const QuantizedGraph& graph) {
  return graph.input_signed ? -(int64_t{1} << (graph.input_bits - 1)) : 0;
}
int64_t input_max(const QuantizedGraph& graph) {
  return graph.input_signed ? (int64_t{1} << (graph.input_bits - 1)) - 1
                            : (int64_t{1} << graph.input_bits) - 1;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(N";
  for (int64_t d : dims) s += ", " + std::to_string(d);
  return s + ")";
}

// The float input's dims as the source model declares them (without N).
std::vector<int64_t> float_input_dims(const QuantizedGraph& graph) {
  const akida::Shape& s = graph.input_shape;
  if (graph.input_quantizer->channels_first) return {s.c, s.x, s.y};
  return {s.x, s.y, s.c};
}

akida::Batch quantized_float_batch(const QuantizedGraph& graph, const akida::NpyArray& array,
                                   const std::string& source) {
  if (!graph.input_quantizer)
    throw akida::ShapeError(source + ": float32 inputs need a model with an InputQuantizer; " +
                            graph.source + " takes " + (graph.input_signed ? "int8" : "uint8") +
                            " integers");
  const std::vector<int64_t> dims = float_input_dims(graph);
  const std::vector<int64_t>& s = array.shape;
  const akida::Shape& in = graph.input_shape;
  const bool full = s.size() == 4 && std::equal(dims.begin(), dims.end(), s.begin() + 1);
  const bool flat = s.size() == 2 && in.x == 1 && in.y == 1 && s[1] == in.c;
  if (!full && !flat)
    throw akida::ShapeError(source + ": input shape " + akida::npy_shape_text(s) +
                            " does not fit the model, expected " + dims_text(dims) +
                            (graph.input_quantizer->channels_first ? " (channels first, as the "
                                                                     "ONNX model's input)"
                                                                   : ""));
  akida::FloatBatch floats{s[0], in, std::vector<float>(array.element_count())};
  for (size_t i = 0; i < floats.values.size(); ++i) floats.values[i] = array.float_at(i);
  try {
    return Evaluator(graph).quantize_input(floats, graph.input_quantizer->channels_first);
  } catch (const akida::Error& e) {
    akida::rethrow_with_context(e, source);
  }
}

}  // namespace

akida::Batch model_input_batch(const QuantizedGraph& graph, const akida::NpyArray& array,
                               const std::string& source) {
  if (array.dtype == akida::NpyDType::Float32) return quantized_float_batch(graph, array, source);
  const auto expected = graph.input_signed ? akida::NpyDType::Int8 : akida::NpyDType::UInt8;
  if (array.dtype != expected)
    throw akida::ShapeError(source + ": input dtype is " + akida::npy_dtype_name(array.dtype) +
                            ", the model expects " + akida::npy_dtype_name(expected) +
                            (graph.input_quantizer ? " (or float32 for its InputQuantizer)" : ""));
  return akida::to_batch(array, graph.input_shape, source);
}

akida::Batch random_input_batch(const QuantizedGraph& graph, int64_t count, uint64_t seed,
                                std::optional<int32_t> max_value) {
  if (count <= 0) throw akida::ShapeError("random inputs: the sample count must be positive");
  int64_t lo = input_min(graph), hi = input_max(graph);
  if (max_value) {
    if (*max_value < 0) throw akida::ShapeError("random inputs: the maximum value must be >= 0");
    lo = std::max(lo, -int64_t{*max_value});
    hi = std::min(hi, int64_t{*max_value});
  }
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<int64_t> draw(lo, hi);
  akida::Batch batch{count, graph.input_shape, {}};
  batch.values.resize(static_cast<size_t>(count * graph.input_shape.size()));
  for (int32_t& v : batch.values) v = static_cast<int32_t>(draw(engine));
  return batch;
}

}  // namespace cnn2snn
