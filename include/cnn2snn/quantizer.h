// The quantizer: float ONNX models (PyTorch exports and the like) to QuantizeML ONNX models.
//
// It does what QuantizeML's ONNX quantizer does (quantizeml.onnx_support.quantization.quantize):
// sanitize the float graph (BatchNormalization folded, input normalisation folded into the
// InputQuantizer, ...), calibrate the activation ranges over samples with onnxruntime's min/max
// calibrator semantics (per channel, over the samples and the image), quantize weights per output
// channel, and write a model of com.brainchip nodes with QuantizeML's function bodies,
// initializer names and dtypes and its quantization arithmetic, which `cnn2snn convert` (and
// BrainChip's converter) turn into Akida 2.0 models. docs/quantizer.md says what is supported,
// where each formula comes from and what differs from QuantizeML (4-bit).
//
// Layouts: float arrays are in the float model's own layout, batch first, row-major (e.g.
// (N, 1, 28, 28) for an NCHW model).
//
// Errors: akida::FormatError (unreadable file, inconsistent model), akida::UnsupportedError (one
// error naming every node that cannot be quantized, "N nodes cannot be quantized:" then one line
// per node "node 'NAME' (OpType): why"), akida::ShapeError (samples or inputs that do not fit the
// model). Messages start with the model's file name.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cnn2snn {

// A float32 array, row-major.
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// QuantizeML's QuantizationParams (the parts this quantizer uses). QuantizeML's ONNX path accepts
// only 8 bits; 4-bit weights / activations are this project's extension (docs/quantizer.md).
struct QuantizationParams {
  int32_t input_weight_bits = 8;  // weights of the layer that reads the model input: 4 or 8
  int32_t weight_bits = 8;        // other weights: 4 or 8
  int32_t activation_bits = 8;    // every scaled (int) layer output: 4 or 8
  bool per_tensor_activations = false;  // one range per tensor instead of one per channel
  bool input_signed = false;      // input_dtype int8 (default uint8: an InputConv2D when possible)
};

// Calibrated range of a tensor: one (lowest, highest) per channel, or one for the whole tensor
// (flat tensors, or per_tensor_activations), as onnxruntime's TensorData (float32).
struct TensorRange {
  std::vector<float> lowest, highest;
};
using CalibrationRanges = std::map<std::string, TensorRange>;

struct CalibrationOptions {
  // Samples in the model's input layout and domain (what the float model is fed). Absent:
  // `num_samples` random samples uniform in [-1, 1], as QuantizeML generates them.
  std::optional<FloatArray> samples;
  std::string samples_source = "calibration samples";  // names the samples in errors (a file)
  int64_t num_samples = 1024;
  // Samples per step (progress granularity; the ranges do not depend on it). 0: one step.
  int64_t batch_size = 0;
  uint64_t seed = 0;     // of the random samples
  bool progress = true;  // akida::Progress on stderr, drawn only when it is a terminal
  int threads = 0;       // samples evaluated in parallel; 0: one thread per core (at most 8)
};

class FloatModel {
 public:
  // Reads and sanitizes a float ONNX model. Throws FormatError / UnsupportedError for what makes
  // the whole model unreadable (not one float input of rank 4, an already quantized model, ...);
  // nodes the quantizer cannot handle are reported by run() / quantize().
  static FloatModel load(const std::string& path);
  static FloatModel from_bytes(const std::string& bytes, const std::string& source);
  ~FloatModel();
  FloatModel(FloatModel&&) noexcept;
  FloatModel& operator=(FloatModel&&) noexcept;

  const std::string& source() const;
  std::vector<int64_t> input_dims() const;   // without batch, in the model's own layout
  std::vector<int64_t> output_dims() const;  // without batch

  // The float model's output for `inputs` (N, input_dims...), computed by this project's float
  // evaluator (the one calibration uses) on the sanitized graph. Throws UnsupportedError listing
  // the nodes it cannot evaluate, ShapeError for inputs of another shape or holding NaN (its
  // message starts with `inputs_source`).
  FloatArray run(const FloatArray& inputs, const std::string& inputs_source = "inputs") const;

  // The ranges QuantizeML's calibrate() would measure for the tensors the quantized layers need
  // (each layer's output, and the input the first layer reads). Throws like quantize().
  CalibrationRanges calibrate(const QuantizationParams& params,
                              const CalibrationOptions& options) const;

  // The QuantizeML ONNX model (a serialized onnx.ModelProto): calibrate, then
  // quantize_calibrated(). Throws UnsupportedError listing every node that cannot be quantized.
  std::string quantize(const QuantizationParams& params, const CalibrationOptions& options) const;
  std::string quantize_calibrated(const QuantizationParams& params,
                                  const CalibrationRanges& ranges) const;

 private:
  struct Impl;
  explicit FloatModel(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// QuantizeML's default output name: MODEL_i<i>_w<w>_a<a>.onnx beside MODEL (an existing
// "_iN_wN_aN" suffix of the name is replaced).
std::string default_quantized_path(const std::string& model, const QuantizationParams& params);

// Writes `bytes` to `path` atomically (a temporary file beside it, then a rename).
void write_model_file(const std::string& bytes, const std::string& path);

}  // namespace cnn2snn
