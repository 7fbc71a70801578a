// The `cnn2snn` command: convert QuantizeML models (Keras .h5, ONNX) to Akida .fbz files, check
// them, run them in the reference evaluator, and verify a conversion layer by layer.
//
// Exit codes: 0 on success; 1 for a file, model or input error (one line "cnn2snn: error: ..."
// on stderr naming the file), for a deprecated action, and for `verify` when a layer differs;
// 2 for `check` on an incompatible model; CLI11's own codes (above 100) for usage errors.
// The work is in the cnn2snn library (cnn2snn/pipeline.h): this file only parses and prints.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "akida/atomic_file.h"
#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/npy.h"
#include "akida/progress.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/pipeline.h"
#include "cli_main.h"

namespace {

std::string version_text() {
  return std::string("cnn2snn ") + cnn2snn::version() +
         " (converts QuantizeML models to Akida 2.0 or 1.0; writes .fbz files as akida " +
         akida::kWriterVersion + ")";
}

// Errors raised after a file was read (conversion, evaluation) name the model when they do not
// already start with a path.
template <typename Step>
auto with_file_context(const std::string& path, Step step) {
  try {
    return step();
  } catch (const akida::Error& e) {
    if (std::string(e.what()).rfind(path, 0) == 0) throw;
    akida::rethrow_with_context(e, path);
  }
}

struct ConvertOptions {
  std::string model, output;
  std::optional<float> scale;
  std::optional<int> shift;
};
struct RunOptions {
  std::string model, input, output;
  bool forward = false;
};
struct VerifyOptions {
  std::string model, input;
  std::optional<int64_t> random;
  std::optional<int32_t> max_value;
  uint64_t seed = 0;
  bool json = false;
};
struct CheckOptions {
  std::string model;
  bool json = false;
};

// Every subcommand's arguments (CLI11 binds to them, so they outlive parsing) and the exit
// status a callback chose.
struct CliOptions {
  ConvertOptions convert;
  RunOptions run;
  VerifyOptions verify;
  CheckOptions check;
  int status = 0;
};

// ---- convert --------------------------------------------------------------------------------

std::string default_output(const std::string& model) {
  return std::filesystem::path(model).replace_extension(".fbz").string();
}

// write_fbz replaces its target atomically: it must never be the model being converted.
void refuse_to_overwrite_input(const std::string& model, const std::string& output) {
  std::error_code ec;
  if (std::filesystem::equivalent(model, output, ec))
    throw akida::Error(output + ": is the input model; choose another output path with -o");
}

// Akida 1.0 cannot always reproduce the quantized model's level boundaries (docs/akida-v1.md):
// say how many activated neurons got exact threshold / act_step pairs.
void print_v1_exact_counts(const cnn2snn::QuantizedGraph& graph) {
  const std::vector<cnn2snn::V1ExactCount> counts = cnn2snn::v1_exact_counts(graph);
  int64_t exact = 0, neurons = 0;
  std::string layers;
  for (const auto& c : counts) {
    exact += c.exact;
    neurons += c.neurons;
    if (!layers.empty()) layers += ", ";
    layers += c.layer + " " + std::to_string(c.exact) + "/" + std::to_string(c.neurons);
  }
  if (neurons == 0) return;
  std::cout << "Akida 1.0: exact threshold/act_step for "
            << cnn2snn::count_with_percentage(exact, neurons, "activated neurons") << ": "
            << layers;
  if (exact < neurons)
    std::cout << "; the others keep BrainChip's derivation and can differ from the quantized "
                 "model on level boundaries (docs/akida-v1.md; 'cnn2snn verify' measures by how "
                 "much)";
  std::cout << ".\n";
}

void convert_model(const ConvertOptions& o) {
  std::optional<cnn2snn::InputScaling> scaling;
  if (o.scale || o.shift) {
    // cnn2snn's input_scaling only applies to legacy CNN2SNN models; QuantizeML models
    // quantize their own inputs (BrainChip warns and goes on the same way).
    const bool legacy = cnn2snn::detect_model_format(o.model) == cnn2snn::ModelFormat::KerasH5 &&
                        cnn2snn::is_legacy_cnn2snn_h5(o.model);
    if (legacy) {
      scaling = cnn2snn::InputScaling{o.scale.value_or(1.0f), static_cast<double>(o.shift.value_or(0))};
      std::cerr << "cnn2snn: warning: -sc/--scale and -sh/--shift are deprecated: input scaling ("
                << scaling->scale << ", " << scaling->shift << ") applied to this legacy model\n";
    } else {
      std::cerr << "cnn2snn: warning: -sc/--scale and -sh/--shift are deprecated and ignored: "
                   "QuantizeML models carry their own input quantization\n";
    }
  }
  const std::string output = o.output.empty() ? default_output(o.model) : o.output;
  refuse_to_overwrite_input(o.model, output);
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(o.model, scaling);
  const akida::Model model = with_file_context(o.model, [&] { return cnn2snn::convert(graph); });
  akida::write_fbz(model, output);
  std::cout << "Model successfully converted and saved as " << output << ".\n";
  if (graph.legacy_cnn2snn || cnn2snn::target_akida_version() == cnn2snn::AkidaVersion::v1)
    print_v1_exact_counts(graph);
}

// ---- run ------------------------------------------------------------------------------------

void run_model(const RunOptions& o) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(o.model);
  cnn2snn::Evaluator evaluator =
      with_file_context(o.model, [&] { return cnn2snn::Evaluator(graph); });
  const akida::Batch batch = cnn2snn::model_input_batch(graph, akida::read_npy(o.input), o.input);
  akida::Progress progress("run", batch.n);  // on a terminal only
  evaluator.set_progress(&progress);
  // The batch fits the graph: what the evaluator refuses now concerns the input's values.
  const akida::NpyArray output = with_file_context(o.input, [&] {
    return o.forward ? akida::to_npy(evaluator.run(batch)) : akida::to_npy(evaluator.predict(batch));
  });
  progress.finish();
  akida::write_npy(output, o.output);
  std::cout << "cnn2snn: wrote " << o.output << ": " << akida::npy_dtype_name(output.dtype) << " "
            << akida::npy_shape_text(output.shape) << ", "
            << (o.forward ? "integer outputs of the last integer block" : "predict")
            << " of the quantized model " << o.model << " on " << batch.n << " sample"
            << (batch.n == 1 ? "" : "s") << " of " << o.input << "\n";
}

// ---- verify ---------------------------------------------------------------------------------

// "Akida 1.0" / "Akida 2.0", for the target generation (CNN2SNN_TARGET_AKIDA_VERSION).
std::string generation_name(cnn2snn::AkidaVersion version = cnn2snn::target_akida_version()) {
  return version == cnn2snn::AkidaVersion::v1 ? "Akida 1.0" : "Akida 2.0";
}

const char* verdict_name(cnn2snn::LayerVerdict verdict) {
  switch (verdict) {
    case cnn2snn::LayerVerdict::Equal: return "equal";
    case cnn2snn::LayerVerdict::Different: return "different";
    case cnn2snn::LayerVerdict::NotCompared: break;
  }
  return "not_compared";
}

nlohmann::json layer_json(const cnn2snn::LayerComparison& l) {
  nlohmann::json first = nullptr;
  if (l.difference) {
    const cnn2snn::Difference& d = *l.difference;
    first = {{"sample", d.sample}, {"x", d.x},          {"y", d.y},
             {"c", d.c},           {"evaluator", d.expected}, {"akida", d.actual}};
  }
  nlohmann::json shape = nullptr;
  if (l.shape.size() > 0) shape = {l.shape.x, l.shape.y, l.shape.c};
  return {{"layer", l.layer},
          {"kind", l.kind},
          {"shape", shape},
          {"result", verdict_name(l.verdict)},
          {"compared_values", l.compared_values},
          {"differing_values", l.differing_values},
          {"differing_fraction", l.differing_fraction()},
          {"max_abs_difference", l.max_abs_difference},
          {"first_difference", first},
          {"detail", l.detail}};
}

void print_verify_json(const cnn2snn::VerifyReport& report, const std::string& model,
                       cnn2snn::AkidaVersion target, const std::string& inputs) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : report.layers) layers.push_back(layer_json(l));
  nlohmann::json output = nullptr;
  if (const cnn2snn::LayerComparison* out = report.output()) {
    const double agreement = report.samples == 0 ? 0.0
                                                 : static_cast<double>(*out->top1_agreeing) /
                                                       static_cast<double>(report.samples);
    output = {{"layer", out->layer},
              {"samples", report.samples},
              {"top1_agreeing", *out->top1_agreeing},
              {"top1_agreement", agreement}};
  }
  const nlohmann::json out = {{"model", model},          {"target", cnn2snn::to_string(target)},
                              {"inputs", inputs},        {"samples", report.samples},
                              {"all_equal", report.all_equal()}, {"layers", layers},
                              {"output", output}};
  std::cout << out.dump(2) << "\n";
}

int verify_model(const VerifyOptions& o) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(o.model);
  const akida::Model model = with_file_context(o.model, [&] { return cnn2snn::convert(graph); });
  const akida::Batch batch =
      o.random ? cnn2snn::random_input_batch(graph, *o.random, o.seed, o.max_value)
               : cnn2snn::model_input_batch(graph, akida::read_npy(o.input), o.input);
  const std::string inputs = o.random ? std::to_string(batch.n) + " random samples (seed " +
                                            std::to_string(o.seed) + ")"
                                      : o.input;
  const cnn2snn::VerifyReport report = with_file_context(o.random ? o.model : o.input, [&] {
    return cnn2snn::verify(graph, model, batch, /*show_progress=*/true);
  });
  const cnn2snn::AkidaVersion target =
      graph.legacy_cnn2snn ? cnn2snn::AkidaVersion::v1 : cnn2snn::target_akida_version();
  if (o.json) {
    print_verify_json(report, o.model, target, inputs);
    return report.all_equal() ? 0 : 1;
  }
  std::cout << "cnn2snn verify: " << o.model << " converted to " << generation_name(target)
            << " in memory; reference "
            << "evaluator vs Akida runtime on " << inputs << "\n"
            << cnn2snn::format_report(report);
  size_t different = 0;
  for (const auto& layer : report.layers)
    different += layer.verdict == cnn2snn::LayerVerdict::Different;
  if (different == 0) {
    std::cout << "all layers equal\n";
    return 0;
  }
  std::cout << different << " layer" << (different == 1 ? "" : "s") << " differ\n";
  return 1;
}

// ---- check ----------------------------------------------------------------------------------

nlohmann::json findings_json(const std::vector<cnn2snn::Incompatibility>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& i : findings)
    out.push_back({{"layer", i.layer}, {"field", i.field}, {"problem", i.problem}});
  return out;
}

void print_check_json(const cnn2snn::CheckReport& report) {
  const nlohmann::json out = {{"compatible", report.compatible()},
                              {"target", cnn2snn::to_string(report.target)},
                              {"incompatibilities", findings_json(report.incompatibilities)},
                              {"hardware_limits", findings_json(report.hardware_limits)}};
  std::cout << out.dump(2) << "\n";
}

void print_check_text(const cnn2snn::CheckReport& report) {
  if (report.compatible()) {
    std::cout << report.source << ": compatible with " << generation_name(report.target) << "\n";
    if (!report.hardware_limits.empty()) {
      std::cout << "It runs in software; these layers exceed Akida 2.0 hardware limits:\n";
      for (const auto& i : report.hardware_limits)
        std::cout << "  " << cnn2snn::to_string(i) << "\n";
    }
    return;
  }
  const size_t n = report.incompatibilities.size();
  std::cout << report.source << ": not compatible with " << generation_name(report.target) << " ("
            << n << " incompatibilit"
            << (n == 1 ? "y" : "ies") << "):\n";
  for (const auto& i : report.incompatibilities)
    std::cout << "  " << cnn2snn::to_string(i) << "\n";
}

int check_model(const CheckOptions& o) {
  const cnn2snn::CheckReport report = cnn2snn::check_model(o.model);
  o.json ? print_check_json(report) : print_check_text(report);
  return report.compatible() ? 0 : 2;
}

// ---- command line ---------------------------------------------------------------------------

// quantize / reshape / calibrate belonged to the legacy CNN2SNN quantization flow; QuantizeML
// replaces them. They accept their old arguments so that scripts get this message, not a usage
// error, and they touch no file.
void add_deprecated_action(CLI::App& app, const std::string& name, const std::string& replacement) {
  auto* action = app.add_subcommand(
      name, "Deprecated (legacy CNN2SNN flow): exits with an error, writes nothing; use " +
                replacement);
  action->allow_extras()->prefix_command();
  action->callback([name, replacement] {
    throw akida::UnsupportedError("'" + name + "' is deprecated and no longer available: use " +
                                  replacement + ", then 'cnn2snn convert'");
  });
}

void add_convert(CLI::App& app, CliOptions& o) {
  auto* cmd = app.add_subcommand(
      "convert", "Convert a QuantizeML model (Keras .h5 or ONNX, detected by content) to an "
                 "Akida .fbz file for the target generation (2.0 unless CNN2SNN_TARGET_AKIDA_VERSION=v1); "
                 "on any incompatibility, list every faulty layer and write nothing");
  cmd->add_option("-m,--model", o.convert.model, "Quantized model file (.h5 or .onnx)")->required();
  cmd->add_option("-o,--output", o.convert.output,
                  "Akida model to write (replaced atomically; default: the model's path with "
                  "its extension replaced by .fbz)");
  cmd->add_option("--scale", o.convert.scale,
                  "Deprecated (-sc): input scaling of a legacy CNN2SNN model (input_akida = scale * input_keras + shift); ignored for QuantizeML models (warning)");
  cmd->add_option("--shift", o.convert.shift,
                  "Deprecated (-sh): input shift of a legacy CNN2SNN model; ignored for QuantizeML models (warning)");
  cmd->callback([&o] { convert_model(o.convert); });
}

void add_run(CLI::App& app, CliOptions& o) {
  auto* cmd = app.add_subcommand(
      "run", "Run the QUANTIZED model (before conversion) in the reference evaluator, with "
             "QuantizeML's integer arithmetic, on a .npy batch (a progress bar on stderr when it "
             "is a terminal)");
  cmd->add_option("-m,--model", o.run.model, "Quantized model file (.h5 or .onnx)")->required();
  cmd->add_option("-i,--input", o.run.input,
                  "Inputs: the model's integers, uint8 (int8 for signed inputs) (N, X, Y, C) or "
                  "(N, C) for 1x1xC inputs; or float32 for models with an InputQuantizer, shaped "
                  "as the model's input ((N, C, X, Y) for channels-first ONNX models)")
      ->required();
  cmd->add_option("-o,--output", o.run.output,
                  "Outputs: float32 (N, x, y, c) predictions (through the Dequantizer), or int32 "
                  "with --forward")
      ->required();
  cmd->add_flag("--forward", o.run.forward, "Write the int32 outputs of the last integer block");
  cmd->callback([&o] { run_model(o.run); });
}

void add_verify(CLI::App& app, CliOptions& o) {
  auto* cmd = app.add_subcommand(
      "verify", "Convert in memory, run the reference evaluator and the Akida runtime on the "
                "same integer inputs and compare every layer exactly: per layer the number and "
                "fraction of differing values and the largest |difference|, then the top-1 "
                "agreement of the output over the samples; exit 0 only if all layers are equal, "
                "1 otherwise (a progress bar on stderr when it is a terminal)");
  cmd->add_option("-m,--model", o.verify.model, "Quantized model file (.h5 or .onnx)")->required();
  auto* input = cmd->add_option("-i,--input", o.verify.input,
                                "Inputs .npy (as for 'run'); samples are consecutive frames");
  auto* random = cmd->add_option("--random", o.verify.random,
                                 "Use N random integer inputs over the model's input range")
                     ->check(CLI::PositiveNumber);
  input->excludes(random);
  cmd->add_option("--max-value", o.verify.max_value,
                  "With --random: draw values in 0..V (-V..V for signed inputs)")
      ->needs(random)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o.verify.seed, "With --random: random seed (default 0)")->needs(random);
  cmd->add_flag("--json", o.verify.json,
                "Print {\"model\", \"target\", \"inputs\", \"samples\", \"all_equal\", "
                "\"layers\": [{\"layer\", \"kind\", \"shape\", \"result\", "
                "\"compared_values\", \"differing_values\", \"differing_fraction\", "
                "\"max_abs_difference\", \"first_difference\", \"detail\"}], \"output\": "
                "{\"layer\", \"samples\", \"top1_agreeing\", \"top1_agreement\"}} instead of "
                "the table");
  cmd->callback([&o, input, random] {
    if (input->count() == 0 && random->count() == 0)
      throw CLI::RequiredError("verify needs -i/--input or --random");
    o.status = verify_model(o.verify);
  });
}

void add_check(CLI::App& app, CliOptions& o) {
  auto* cmd = app.add_subcommand(
      "check", "List every incompatibility of a model with the target generation (layer, field, "
               "problem), then, for a compatible Akida 2.0 model, the hardware limits its layers "
               "exceed "
               "(the model still converts and runs in software); exit 0 if compatible, 2 if "
               "not, 1 if the file cannot be read");
  cmd->add_option("-m,--model", o.check.model, "Quantized model file (.h5 or .onnx)")->required();
  cmd->add_flag("--json", o.check.json,
                "Print {\"compatible\", \"target\", \"incompatibilities\": [...], "
                "\"hardware_limits\": [...]}, each entry {\"layer\", \"field\", \"problem\"}");
  cmd->callback([&o] { o.status = check_model(o.check); });
}

void add_commands(CLI::App& app, CliOptions& o) {
  add_convert(app, o);
  add_run(app, o);
  add_verify(app, o);
  add_check(app, o);
  add_deprecated_action(app, "quantize", "QuantizeML (quantizeml.models.quantize)");
  add_deprecated_action(app, "reshape", "QuantizeML or Keras to change the input shape");
  add_deprecated_action(app, "calibrate", "QuantizeML calibration (quantizeml.models.quantize)");
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << version_text() << "\n";
  });
}

}  // namespace

int main(int argc, char** argv) {
  akida::remove_partial_writes_on_signals();  // Ctrl-C leaves no temporary file behind
  CLI::App app{"Convert QuantizeML models (Keras .h5, ONNX) to Akida .fbz models (2.0, or 1.0 on request), check "
               "them, run them and verify conversions.",
               "cnn2snn"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.footer(
      "Target generation: CNN2SNN_TARGET_AKIDA_VERSION (v2 by default; v1: QuantizeML 4-bit "
      "Keras models only). Exit status: 0 on success, 1 when a file, model or input is invalid "
      "(one line 'cnn2snn: error: ...' on stderr) or verify finds a difference, 2 when check "
      "finds the model incompatible, CLI11's usage codes (>100) for bad arguments.");
  CliOptions options;
  add_commands(app, options);
  return cli::guarded_main(app, "cnn2snn", [&] {
    // BrainChip's spellings "-sc" / "-sh" (not valid CLI11 names).
    app.parse(cli::arguments(argc, argv, {{"-sc", "--scale"}, {"-sh", "--shift"}}));
    return options.status;
  });
}
