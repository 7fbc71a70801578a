// The cnn2snn pipeline as the `cnn2snn` command (and later the Python facade) uses it: load a
// quantized model whatever its format, choose the target Akida generation, convert, check, and
// prove a conversion right by running both sides on the same integers.
//
// Everything here composes the front ends (keras_reader.h, onnx_reader.h), the converter
// (converter.h), the reference evaluator (evaluator.h) and the Akida runtime (akida/engine.h);
// it adds no arithmetic of its own.
//
// Errors: akida::FormatError / UnsupportedError / ShapeError (or akida::Error for a bad
// environment setting), messages starting with the file concerned, then the layer and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "akida/engine.h"
#include "akida/model.h"
#include "akida/npy.h"
#include "akida/shapes.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/legacy_reader.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// The project's version ("0.1.0").
const char* version();

// ---- loading --------------------------------------------------------------------------------

enum class ModelFormat { KerasH5, Onnx, AkidaFbz, Unknown };

// The format of the file at `path`, by content, never by extension: the HDF5 signature (at offset
// 0, 512, 1024 or 2048: HDF5 allows a user block) means a Keras .h5; a protobuf starting with
// ModelProto's ir_version field (as every ONNX writer emits it) means ONNX; a file the .fbz
// reader accepts is an Akida model. Throws akida::FormatError naming `path` when it cannot be read.
ModelFormat detect_model_format(const std::string& path);

// Reads a QuantizeML model (Keras .h5 or ONNX, detected by content) for target_akida_version():
// v2 with load_keras_h5 / load_onnx, v1 with load_keras_h5_v1 (converter_v1.h). Throws
// akida::FormatError for an unreadable or unrecognised file, akida::UnsupportedError for an .fbz
// ("... is already an Akida model"), for ONNX with v1 ("PATH: Akida v1 does not support ONNX
// models. Use Akida v2 instead."), and whatever the front ends throw.
// A legacy CNN2SNN .h5 (legacy_reader.h) is read for Akida 1.0 whatever the target, with
// `input_scaling` (cnn2snn.convert's argument; ignored for QuantizeML models, which quantize
// their own inputs).
QuantizedGraph load_quantized_model(const std::string& path,
                                    std::optional<InputScaling> input_scaling = std::nullopt);

// ---- target generation ----------------------------------------------------------------------

// BrainChip's cnn2snn.AkidaVersion.
enum class AkidaVersion { v1, v2 };
const char* to_string(AkidaVersion version);  // "v1", "v2"

inline constexpr const char* kTargetVersionVariable = "CNN2SNN_TARGET_AKIDA_VERSION";

// BrainChip's get_akida_version(): reads CNN2SNN_TARGET_AKIDA_VERSION; unset (or empty) means v2.
// Throws akida::Error "CNN2SNN_TARGET_AKIDA_VERSION=<x> must be one of ['v1', 'v2']" otherwise.
AkidaVersion target_akida_version();

// BrainChip's set_akida_version() context manager: sets CNN2SNN_TARGET_AKIDA_VERSION for the
// object's lifetime and restores the previous value (or its absence) when it goes out of scope,
// exceptions included. Not thread-safe: it changes the process environment.
class ScopedAkidaVersion {
 public:
  explicit ScopedAkidaVersion(AkidaVersion version);
  ~ScopedAkidaVersion();
  ScopedAkidaVersion(const ScopedAkidaVersion&) = delete;
  ScopedAkidaVersion& operator=(const ScopedAkidaVersion&) = delete;

 private:
  std::optional<std::string> previous_;
};

// ---- conversion and checks ------------------------------------------------------------------

// The Akida model of `graph` for target_akida_version(): convert_to_akida_v2() or
// convert_to_akida_v1() (the graph should come from load_quantized_model() with the same target);
// always convert_to_akida_v1() for a legacy CNN2SNN graph.
akida::Model convert(const QuantizedGraph& graph);

// Everything that keeps a model file from becoming an Akida model.
struct CheckReport {
  std::string source;
  AkidaVersion target = AkidaVersion::v2;
  // Front-end refusals (invalid block patterns, unsupported layers) and check_v2() violations.
  // Front ends stop at their first unsupported layer (except invalid block patterns, which they
  // list all at once), so a model refused by its front end does not reach check_v2().
  std::vector<Incompatibility> incompatibilities;
  // Akida 2.0 IP limits the converted model exceeds (check_v2_hardware()): it converts and runs
  // in software, but would not map onto hardware as one sequence. Not incompatibilities.
  std::vector<Incompatibility> hardware_limits;
  bool compatible() const { return incompatibilities.empty(); }
};

// Loads and checks `path` for target_akida_version(). Front-end UnsupportedErrors become
// incompatibilities (layer and field parsed from their "layer|node 'NAME' (Type): field: ..."
// context; an invalid block pattern gives one entry per faulty block, with the compatible
// patterns in `problem`). v1 targets run check_v1() (no separate hardware limits). Throws for
// files that cannot be read (FormatError) and for an .fbz.
CheckReport check_model(const std::string& path);

// ---- inputs ---------------------------------------------------------------------------------

// The integer batch `array` gives the graph: uint8 / int8 (as graph.input_signed) of shape
// (N, x, y, c) (or (N, c) for a 1x1xc input), or float32 for graphs with an InputQuantizer, shaped
// as the source model's input ((N, c, x, y) for channels-first ONNX inputs) and quantized by it.
// Values out of the input's range are refused by the evaluator and runtime, not here. Throws
// akida::ShapeError naming `source` (wrong dtype, shape, float input without an InputQuantizer).
akida::Batch model_input_batch(const QuantizedGraph& graph, const akida::NpyArray& array,
                               const std::string& source);

// `count` random samples uniform over the graph's integer input range (0..2^bits-1 unsigned,
// -2^(bits-1)..2^(bits-1)-1 signed), or over [-max_value, max_value] clipped to that range when
// max_value is set (0..max_value for unsigned inputs). The same seed gives the same batch with
// the same standard library (std::mt19937_64 + uniform_int_distribution).
akida::Batch random_input_batch(const QuantizedGraph& graph, int64_t count, uint64_t seed,
                                std::optional<int32_t> max_value = std::nullopt);

// ---- verification ---------------------------------------------------------------------------

// Where two outputs first differ (row-major order: sample, then x, y, c).
struct Difference {
  int64_t sample = 0, x = 0, y = 0, c = 0;
  double expected = 0;  // the reference evaluator's value
  double actual = 0;    // the Akida runtime's value
};

enum class LayerVerdict {
  Equal,        // same shape, every value equal
  Different,    // see `difference` or `detail`
  NotCompared,  // a layer the converter inserted (InputData): no block computes it
};

struct LayerComparison {
  std::string layer;      // Akida layer name (= block name)
  std::string kind;       // Akida layer kind, e.g. "Conv2D"
  akida::Shape shape;     // the Akida layer's output dims
  LayerVerdict verdict = LayerVerdict::NotCompared;
  std::optional<Difference> difference;  // first differing value
  std::string detail;     // why Different when there is no value to show (shape, missing layer)
  // How far the two sides are apart (0 when the layer was not compared value by value):
  int64_t compared_values = 0;    // values compared (every sample, every position)
  int64_t differing_values = 0;   // of which differ
  double max_abs_difference = 0;  // the largest |akida − evaluator|
  // The model's output only (its last layer, or the Dequantizer folded into an Akida 1.0 last
  // layer): the samples whose top-1 agrees, the top-1 of a sample being the position of its
  // largest value (the first one on ties) on each side.
  std::optional<int64_t> top1_agreeing;

  double differing_fraction() const;  // differing_values / compared_values (0 when none)
};

struct VerifyReport {
  int64_t samples = 0;
  std::vector<LayerComparison> layers;  // the converted model's layers in order, then any block
                                        // the model lacks
  bool all_equal() const;
  // The row of the model's output (the last one with top1_agreeing), or nullptr when it could
  // not be compared.
  const LayerComparison* output() const;
};

// Runs the reference Evaluator (run_all) and the Akida runtime (Engine::forward_all) on `batch`
// (consecutive frames for temporal models; both start from empty FIFOs) and compares every block
// with the Akida layer of the same name, exactly. Integer layers compare their integers (an
// Akida 1.0 layer without activation as p − threshold, the block's acc + bias); a final
// Dequantizer compares predict()'s float32 values (Akida 1.0: inside the last layer). Throws what Evaluator / Engine construction or
// the batch check throw.
// With show_progress, a progress bar counts the samples run (on stderr, only when it is a
// terminal: akida::Progress).
VerifyReport verify(const QuantizedGraph& graph, const akida::Model& model,
                    const akida::Batch& batch, bool show_progress = false);

// A table, one row per layer: layer, kind, output shape, differing values ("D of N (P%)"), max
// |difference|, then "equal", "DIFFERENT (first at sample S, x X, y Y, c C: evaluator E, akida
// A)", "DIFFERENT: why" or "not compared (...)"; then one line with the output's top-1
// agreement ("top-1 agreement on OUTPUT: K of N samples (P%)").
std::string format_report(const VerifyReport& report);
// "3 of 4000 (0.075%)", "6 of 8 samples (75%)": a count out of a total, with its percentage (3
// significant digits, never rounded to 0% or 100% when it is neither).
std::string count_with_percentage(int64_t count, int64_t total, const std::string& unit = "");

}  // namespace cnn2snn
