// The `akida` command: summary, JSON dump, inference on .npy batches and upgrade of .fbz files.
//
// Exit codes: 0 on success; 1 for a file, model or input error (one line "akida: error: ..." on
// stderr naming the file); CLI11's own codes (above 100) for command-line usage errors.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "akida/atomic_file.h"
#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/json_dump.h"
#include "akida/npy.h"
#include "akida/progress.h"
#include "akida/summary.h"
#include "cli_main.h"

namespace {

// The project's version (CMake's project(VERSION)); .fbz files are written as kWriterVersion.
constexpr const char* kToolVersion = "0.1.0";

std::string version_text() {
  return std::string("akida ") + kToolVersion + " (cnn2snn project; writes .fbz files as akida " +
         akida::kWriterVersion + ")";
}

// Runs `step` on a model read from `path`, so that errors after reading (shape inference, the
// engine's checks) name the file as the reader's errors do.
template <typename Step>
auto with_file_context(const std::string& path, Step step) {
  try {
    return step();
  } catch (const akida::Error& e) {
    const std::string message = e.what();
    if (message.rfind(path, 0) == 0) throw;  // already names the file
    akida::rethrow_with_context(e, path);
  }
}

void print_summary(const std::string& model_path) {
  const akida::Model model = akida::read_fbz(model_path);
  std::cout << with_file_context(model_path, [&] { return akida::summary(model); });
}

void print_json(const std::string& model_path, int indent) {
  const akida::Model model = akida::read_fbz(model_path);
  const auto json = with_file_context(model_path, [&] { return akida::dump_json(model); });
  std::cout << json.dump(indent) << "\n";
}

struct RunOptions {
  std::string model_path, input_path, output_path;
  bool forward = false;
  int threads = 0;  // Engine::set_threads: 0 one per core
};

// Every subcommand's arguments; CLI11 binds to them, so they outlive parsing.
struct CliOptions {
  std::string summary_model;
  std::string dump_model;
  bool json = true;
  int indent = -1;
  RunOptions run;
  std::string old_path, new_path;
};

// Model inputs are uint8 unless the model's InputData is signed; the vendor's runtime refuses
// other dtypes rather than converting, and so do we.
void check_input_dtype(const akida::NpyArray& input, const akida::Engine& engine,
                       const std::string& input_path) {
  const auto expected = engine.input_signed() ? akida::NpyDType::Int8 : akida::NpyDType::UInt8;
  if (input.dtype != expected)
    throw akida::ShapeError(input_path + ": input dtype is " + akida::npy_dtype_name(input.dtype) +
                            ", the model expects " + akida::npy_dtype_name(expected));
}

void run_model(const RunOptions& options) {
  const akida::Model model = akida::read_fbz(options.model_path);
  akida::Engine engine =
      with_file_context(options.model_path, [&] { return akida::Engine(model); });
  engine.set_threads(options.threads);
  const akida::NpyArray input = akida::read_npy(options.input_path);
  check_input_dtype(input, engine, options.input_path);
  const akida::Batch batch = akida::to_batch(input, engine.input_shape(), options.input_path);
  akida::Progress progress("run", batch.n);  // on a terminal only
  engine.set_progress(&progress);
  // Value ranges and shapes are checked by the engine; its messages concern the input file.
  const akida::NpyArray output = with_file_context(options.input_path, [&] {
    return options.forward ? akida::to_npy(engine.forward(batch))
                           : akida::to_npy(engine.predict(batch));
  });
  progress.finish();
  akida::write_npy(output, options.output_path);
  std::cout << "akida: wrote " << options.output_path << ": " << akida::npy_dtype_name(output.dtype)
            << " " << akida::npy_shape_text(output.shape) << ", "
            << (options.forward ? "forward" : "predict") << " of " << options.model_path << " on "
            << batch.n << " sample" << (batch.n == 1 ? "" : "s") << " of " << options.input_path
            << "\n";
}

void upgrade_model(const std::string& old_path, const std::string& new_path) {
  const akida::Model model = akida::read_fbz(old_path);
  akida::write_fbz(model, new_path);
  std::cout << "akida: upgraded " << old_path << " ("
            << (model.version ? "akida " + *model.version : std::string("layout older than 2.3"))
            << ", " << model.layers.size() << " layers, Akida "
            << akida::ip_version_name(model.ip_version()) << ") to " << new_path << " (akida "
            << akida::kWriterVersion << " layout)\n";
}

// Files are not checked by CLI11 (CLI::ExistingFile): a missing file is a file error (exit 1,
// reported by the reader with the path), not a usage error.
void add_commands(CLI::App& app, CliOptions& o) {
  auto* summary = app.add_subcommand(
      "summary", "Print the model summary as BrainChip's Model.summary() does (unmapped model)");
  summary->add_option("MODEL", o.summary_model, "Akida model file (.fbz, any generation)")
      ->required();
  summary->callback([&o] { print_summary(o.summary_model); });

  auto* dump = app.add_subcommand(
      "dump",
      "Print the model as JSON: version, ip_version, input/output shapes, and every "
      "layer's type, inbound layers, parameters and variables (shape, dtype, values)");
  dump->add_option("MODEL", o.dump_model, "Akida model file (.fbz)")->required();
  dump->add_flag("--json", o.json, "JSON output (the only format; accepted for clarity)");
  dump->add_option("--indent", o.indent, "Pretty-print with N spaces per level (default: compact)")
      ->check(CLI::Range(0, 16));
  dump->callback([&o] { print_json(o.dump_model, o.indent); });

  auto* run = app.add_subcommand(
      "run",
      "Run the model on a batch of inputs read from a .npy file and write the outputs to "
      "a .npy file (a progress bar on stderr when it is a terminal)");
  run->add_option("-m,--model", o.run.model_path, "Akida model file (.fbz)")->required();
  run->add_option("-i,--input", o.run.input_path,
                  "Inputs: uint8 (int8 for models with signed inputs) array of shape (N, X, Y, C), "
                  "or (N, C) when the model input is 1x1xC")
      ->required();
  run->add_option("-o,--output", o.run.output_path,
                  "Outputs: float32 (N, x, y, c) as predict() returns, or int32 with --forward")
      ->required();
  run->add_flag("--forward", o.run.forward,
                "Write the integer outputs of forward() (the last layer before a Dequantizer)");
  run->add_option("--threads", o.run.threads,
                  "Threads running the samples (temporal models: their layers in a two-stage "
                  "pipeline, frames stay in order); 0 (default) one per core. Outputs do not "
                  "depend on it")
      ->check(CLI::Range(0, 1024));
  run->callback([&o] { run_model(o.run); });

  auto* upgrade = app.add_subcommand(
      "upgrade", "Read a model of any .fbz generation and write it in the current layout");
  upgrade->add_option("OLD", o.old_path, "Model file to read")->required();
  upgrade->add_option("NEW", o.new_path, "Model file to write (replaced atomically)")->required();
  upgrade->callback([&o] { upgrade_model(o.old_path, o.new_path); });

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << version_text() << "\n";
  });
}

}  // namespace

int main(int argc, char** argv) {
  akida::remove_partial_writes_on_signals();  // Ctrl-C leaves no temporary file behind
  CLI::App app{"Akida models: summary, JSON dump, inference on .npy files, upgrade of .fbz files.",
               "akida"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 on success, 1 when a file, model or input is invalid (one line "
      "'akida: error: ...' on stderr), CLI11's usage codes (>100) for bad arguments.");
  CliOptions options;
  add_commands(app, options);
  return cli::guarded_main(app, "akida", [&] {
    app.parse(argc, argv);
    return 0;
  });
}
