// The `quantizeml` command: quantize float ONNX models the way QuantizeML's own CLI does
// (`quantizeml quantize -m MODEL -i 8 -w 8 -a 8 -sa SAMPLES ...`), writing QuantizeML ONNX models
// that `cnn2snn convert` turns into Akida models; and run float models with the quantizer's float
// evaluator (`quantizeml run`).
//
// Exit codes: 0 on success; 1 for any error (one line "quantizeml: error: ..." on stderr naming the
// file, node and field; a model with several unsupported nodes lists them one per line after it),
// usage errors included.
// The work is in the cnn2snn library (cnn2snn/quantizer.h): this file only parses and prints.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "akida/atomic_file.h"
#include "akida/errors.h"
#include "akida/npy.h"
#include "cnn2snn/pipeline.h"
#include "cnn2snn/quantizer.h"
#include "cli_main.h"

namespace {

struct QuantizeOptions {
  std::string model, output, samples, input_dtype = "uint8";
  int32_t weight_bits = 8, activation_bits = 8, input_weight_bits = 8;
  std::optional<int64_t> num_samples;
  int64_t batch_size = 0;
  uint64_t seed = 0;
  bool per_tensor_activations = false;
};
struct RunOptions {
  std::string model, input, output;
};
struct CliOptions {
  QuantizeOptions quantize;
  RunOptions run;
};

// A .npy of float32 (or integers, converted to float as they are) in the model's input layout.
cnn2snn::FloatArray read_float_array(const std::string& path) {
  const akida::NpyArray array = akida::read_npy(path);
  cnn2snn::FloatArray out;
  out.shape = array.shape;
  out.values.resize(array.element_count());
  for (size_t i = 0; i < out.values.size(); ++i)
    out.values[i] = array.dtype == akida::NpyDType::Float32 ? array.float_at(i)
                                                            : static_cast<float>(array.int_at(i));
  return out;
}

// The first `count` samples of `samples`.
void keep_first(cnn2snn::FloatArray& samples, int64_t count) {
  if (samples.shape.empty() || count >= samples.shape[0]) return;
  const size_t per_sample = samples.values.size() / static_cast<size_t>(samples.shape[0]);
  samples.shape[0] = count;
  samples.values.resize(per_sample * static_cast<size_t>(count));
}

void refuse_to_overwrite_input(const std::string& model, const std::string& output) {
  std::error_code ec;
  if (std::filesystem::equivalent(model, output, ec))
    throw akida::Error(output + ": is the input model; choose another output path with -o");
}

void quantize_model(const QuantizeOptions& o) {
  cnn2snn::QuantizationParams params;
  params.weight_bits = o.weight_bits;
  params.activation_bits = o.activation_bits;
  params.input_weight_bits = o.input_weight_bits;
  params.per_tensor_activations = o.per_tensor_activations;
  params.input_signed = o.input_dtype == "int8";
  const std::string output = o.output.empty() ? cnn2snn::default_quantized_path(o.model, params) : o.output;
  refuse_to_overwrite_input(o.model, output);
  const cnn2snn::FloatModel model = cnn2snn::FloatModel::load(o.model);

  cnn2snn::CalibrationOptions calibration;
  calibration.batch_size = o.batch_size;
  calibration.seed = o.seed;
  if (!o.samples.empty()) {
    calibration.samples = read_float_array(o.samples);
    calibration.samples_source = o.samples;
    // QuantizeML uses every sample of the file; -ns, when given, keeps the first ones.
    if (o.num_samples) keep_first(*calibration.samples, *o.num_samples);
    std::cerr << "quantizeml: calibrating on " << calibration.samples->shape.at(0)
              << " samples of " << o.samples << "\n";
  } else {
    calibration.num_samples = o.num_samples.value_or(1024);
    std::cerr << "quantizeml: no calibration samples (-sa): calibrating on "
              << calibration.num_samples
              << " random samples uniform in [-1, 1], as QuantizeML does (give real samples "
                 "for a useful model)\n";
  }
  cnn2snn::write_model_file(model.quantize(params, calibration), output);
  std::cout << "Saved quantized model to " << output << ".\n";
}

void run_model(const RunOptions& o) {
  const cnn2snn::FloatModel model = cnn2snn::FloatModel::load(o.model);
  const cnn2snn::FloatArray inputs = read_float_array(o.input);
  const cnn2snn::FloatArray outputs = model.run(inputs, o.input);
  akida::NpyArray array;
  array.dtype = akida::NpyDType::Float32;
  array.shape = outputs.shape;
  array.data.resize(outputs.values.size() * sizeof(float));
  std::memcpy(array.data.data(), outputs.values.data(), array.data.size());
  akida::write_npy(array, o.output);
  std::cout << "quantizeml: wrote " << o.output << ": float32 " << akida::npy_shape_text(array.shape)
            << ", the float model " << o.model << " on " << outputs.shape.at(0) << " sample"
            << (outputs.shape.at(0) == 1 ? "" : "s") << " of " << o.input << "\n";
}

void add_quantize(CLI::App& app, QuantizeOptions& o) {
  auto* cmd = app.add_subcommand(
      "quantize", "Quantize a float ONNX model (calibrating on samples) into a QuantizeML ONNX "
                  "model that 'cnn2snn convert' turns into an Akida 2.0 model; on unsupported "
                  "nodes, list them all and write nothing");
  cmd->add_option("-m,--model", o.model, "Float ONNX model to quantize")->required();
  const auto bits = CLI::IsMember({4, 8});
  cmd->add_option("-w,--weight_bits", o.weight_bits, "Weight quantization bitwidth: 8 (default) or 4")
      ->check(bits);
  cmd->add_option("-a,--activation_bits", o.activation_bits,
                  "Activation quantization bitwidth: 8 (default) or 4")
      ->check(bits);
  cmd->add_option("-i,--input_weight_bits", o.input_weight_bits,
                  "Weight bitwidth of the layer reading the input: 8 (default) or 4")
      ->check(bits);
  cmd->add_option("--samples", o.samples,
                  "(-sa) Calibration samples: a .npy of float32 (or integers, converted to float "
                  "as they are) in the model's own input layout and domain, e.g. (N, 1, 28, 28) "
                  "for an NCHW model; default: random samples uniform in [-1, 1]");
  cmd->add_option("--num_samples", o.num_samples,
                  "(-ns) Number of random samples (default 1024); with --samples, use only the "
                  "first NUM_SAMPLES of the file")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch_size", o.batch_size,
                  "(-bs) Calibration batch size (the ranges do not depend on it; default: all "
                  "samples at once)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-o,--output,-s,--save_name", o.output,
                  "Quantized model to write (replaced atomically; default: "
                  "MODEL_i<i>_w<w>_a<a>.onnx beside the model, as QuantizeML names it)");
  cmd->add_flag("--per_tensor_activations", o.per_tensor_activations,
                "Calibrate one range per tensor instead of one per channel");
  cmd->add_option("--input_dtype", o.input_dtype,
                  "(-id) Input quantization: uint8 (default; an InputConv2D with a zero point when "
                  "the first layer is a Conv on 1 or 3 channels, else int8) or int8")
      ->check(CLI::IsMember({"uint8", "int8"}));
  cmd->add_option("--seed", o.seed, "Seed of the random calibration samples (default 0)");
}

void add_run(CLI::App& app, RunOptions& o) {
  auto* cmd = app.add_subcommand(
      "run", "Run a FLOAT ONNX model with the quantizer's float evaluator (the one calibration "
             "uses) on a .npy batch");
  cmd->add_option("-m,--model", o.model, "Float ONNX model")->required();
  cmd->add_option("-i,--input", o.input,
                  "Inputs: float32 (or integers, converted to float as they are) in the model's "
                  "own input layout, e.g. (N, 1, 28, 28)")
      ->required();
  cmd->add_option("-o,--output", o.output, "Outputs: float32 (N, ...) as the model's output")
      ->required();
}

}  // namespace

int main(int argc, char** argv) {
  akida::remove_partial_writes_on_signals();  // Ctrl-C leaves no temporary file behind
  CLI::App app{"Quantize float ONNX models (PyTorch exports) into QuantizeML ONNX models for "
               "cnn2snn convert, and run float models.",
               "quantizeml"};
  app.set_version_flag("--version", std::string("quantizeml (cnn2snn ") + cnn2snn::version() + ")");
  app.require_subcommand(1);
  app.footer("Exit status: 0 on success, 1 on any error (one line 'quantizeml: error: ...' on "
             "stderr; unsupported nodes are listed one per line after it).");
  CliOptions options;
  add_quantize(app, options.quantize);
  add_run(app, options.run);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "quantizeml (cnn2snn " << cnn2snn::version() << ")\n";
  });
  return cli::guarded_main(app, "quantizeml", [&] {
    // QuantizeML's spellings "-sa", "-ns", "-bs", "-id" (not valid CLI11 names).
    app.parse(cli::arguments(argc, argv, {{"-sa", "--samples"}, {"-ns", "--num_samples"},
                                          {"-bs", "--batch_size"}, {"-id", "--input_dtype"}}));
    // Every error of the library and of the file readers starts with the file it concerns.
    if (app.got_subcommand("quantize")) quantize_model(options.quantize);
    if (app.got_subcommand("run")) run_model(options.run);
    return 0;
  }, /*usage_status=*/1);
}
