// FloatModel: reading, float evaluation, calibration (onnxruntime MinMaxCalibrater semantics as
// QuantizeML configures it) and quantization.
#include "cnn2snn/quantizer.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <random>
#include <regex>
#include <thread>

#include "akida/atomic_file.h"
#include "akida/errors.h"
#include "akida/progress.h"
#include "cnn2snn/onnx/onnx_common.h"
#include "cnn2snn/quantize/float_evaluator.h"
#include "cnn2snn/quantize/float_reader.h"
#include "cnn2snn/quantize/layers.h"

namespace cnn2snn {

using quantize::FloatEvaluator;
using quantize::FloatGraph;

struct FloatModel::Impl {
  FloatGraph graph;
};

namespace {

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// Checks `array` (named `what` in errors) is (N, dims...) with N >= 1 and no NaN; returns N.
int64_t sample_count(const FloatArray& array, const std::vector<int64_t>& dims,
                     const std::string& model, const std::string& what) {
  std::vector<int64_t> expected{0};
  expected.insert(expected.end(), dims.begin(), dims.end());
  bool ok = array.shape.size() == expected.size() && !array.shape.empty() && array.shape[0] >= 1;
  for (size_t i = 1; ok && i < expected.size(); ++i) ok = array.shape[i] == expected[i];
  if (!ok) {
    std::string wanted = dims_text(dims);
    wanted.insert(1, "N, ");
    throw akida::ShapeError(what + ": shape " + dims_text(array.shape) + ", expected " + wanted +
                            " (the input layout of " + model + ")");
  }
  int64_t per_sample = 1;
  for (int64_t d : dims) per_sample *= d;
  if (static_cast<int64_t>(array.values.size()) != array.shape[0] * per_sample)
    throw akida::ShapeError(what + ": " + std::to_string(array.values.size()) +
                            " values for shape " + dims_text(array.shape));
  for (size_t i = 0; i < array.values.size(); ++i)
    if (std::isnan(array.values[i]))
      throw akida::ShapeError(what + ": sample " +
                              std::to_string(static_cast<int64_t>(i) / per_sample) + " holds NaN");
  return array.shape[0];
}

// Runs fn(first, last, worker) over [0, n) split in contiguous chunks, one thread per chunk;
// rethrows the first exception of a worker.
template <typename F>
void parallel_chunks(int64_t n, int workers, F fn) {
  if (workers <= 1 || n < 2) {
    fn(int64_t{0}, n, 0);
    return;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  const int64_t chunk = (n + workers - 1) / workers;
  for (int w = 0; w < workers; ++w) {
    const int64_t first = w * chunk, last = std::min(n, first + chunk);
    if (first >= last) break;
    threads.emplace_back([&, first, last, w] {
      try {
        fn(first, last, w);
      } catch (...) {
        errors[static_cast<size_t>(w)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// `requested` threads (0: one per core, at most 8), never more than samples.
int worker_count(int64_t samples, int requested = 0) {
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const int64_t threads = requested > 0 ? requested : std::min<int64_t>(hardware, 8);
  return static_cast<int>(std::max<int64_t>(1, std::min(threads, samples)));
}

// Per-channel (axis 0 of a (C, X, Y) tensor) or per-tensor (flat tensors) running min / max.
struct RangeAccumulator {
  std::vector<float> lowest, highest;
  int64_t plane = 0;  // values per channel

  RangeAccumulator(const std::vector<int64_t>& shape) {
    const size_t channels = shape.size() == 3 ? static_cast<size_t>(shape[0]) : 1;
    plane = 1;
    for (size_t i = shape.size() == 3 ? 1 : 0; i < shape.size(); ++i) plane *= shape[i];
    lowest.assign(channels, std::numeric_limits<float>::infinity());
    highest.assign(channels, -std::numeric_limits<float>::infinity());
  }
  void observe(const std::vector<float>& values) {
    for (size_t c = 0; c < lowest.size(); ++c)
      for (int64_t i = 0; i < plane; ++i) {
        const float v = values[c * static_cast<size_t>(plane) + static_cast<size_t>(i)];
        if (std::isnan(v)) continue;  // np.nanmin / np.nanmax
        lowest[c] = std::min(lowest[c], v);
        highest[c] = std::max(highest[c], v);
      }
  }
  void merge(const RangeAccumulator& other) {
    for (size_t c = 0; c < lowest.size(); ++c) {
      lowest[c] = std::min(lowest[c], other.lowest[c]);
      highest[c] = std::max(highest[c], other.highest[c]);
    }
  }
};

std::vector<int64_t> tensor_shape(const FloatGraph& graph, const std::string& name) {
  if (name == graph.rescale.output) return graph.rescaled_shape();
  for (const auto& n : graph.nodes)
    if (n.output == name) return n.output_shape;
  throw akida::Error(graph.source + ": no tensor '" + name + "'");
}

FloatArray random_samples(const std::vector<int64_t>& dims, int64_t count, uint64_t seed) {
  FloatArray samples;
  samples.shape = {count};
  int64_t size = count;
  for (int64_t d : dims) samples.shape.push_back(d), size *= d;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  samples.values.resize(static_cast<size_t>(size));
  for (float& v : samples.values) v = uniform(rng);
  return samples;
}

void check_bits(const QuantizationParams& p, const std::string& source) {
  for (auto [name, bits] : {std::pair{"input_weight_bits", p.input_weight_bits},
                            {"weight_bits", p.weight_bits}, {"activation_bits", p.activation_bits}})
    if (bits != 4 && bits != 8)
      throw akida::UnsupportedError(source + ": " + name + " " + std::to_string(bits) +
                                    ": only 4 or 8 bits are supported");
}

CalibrationRanges calibrate_graph(const FloatGraph& graph, const std::vector<std::string>& tensors,
                                  const QuantizationParams& params,
                                  const CalibrationOptions& options) {
  const FloatArray samples = options.samples
                                 ? *options.samples
                                 : random_samples(graph.input_dims, options.num_samples, options.seed);
  const int64_t count = sample_count(samples, graph.input_dims, graph.source,
                                     options.samples ? options.samples_source : "random samples");
  const FloatEvaluator evaluator(graph);
  const size_t per_sample = samples.values.size() / static_cast<size_t>(count);
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& t : tensors) shapes.push_back(tensor_shape(graph, t));
  std::vector<RangeAccumulator> total;
  for (const auto& s : shapes) total.emplace_back(s);

  const int64_t step = options.batch_size > 0 ? options.batch_size : count;
  akida::Progress progress("calibration", count, options.progress && akida::Progress::stderr_is_terminal());
  for (int64_t first = 0; first < count; first += step) {
    const int64_t n = std::min(step, count - first);
    const int workers = worker_count(n, options.threads);
    std::vector<std::vector<RangeAccumulator>> partial(static_cast<size_t>(workers), total);
    parallel_chunks(n, workers, [&](int64_t begin, int64_t end, int w) {
      FloatEvaluator::Workspace ws;
      auto& acc = partial[static_cast<size_t>(w)];
      for (int64_t i = begin; i < end; ++i) {
        evaluator.run(samples.values.data() + static_cast<size_t>(first + i) * per_sample, ws);
        for (size_t t = 0; t < tensors.size(); ++t) acc[t].observe(evaluator.tensor(ws, tensors[t]));
        progress.advance();
      }
    });
    for (const auto& p : partial)
      for (size_t t = 0; t < tensors.size(); ++t) total[t].merge(p[t]);
  }
  progress.finish();

  CalibrationRanges ranges;
  for (size_t t = 0; t < tensors.size(); ++t) {
    TensorRange r{total[t].lowest, total[t].highest};
    if (params.per_tensor_activations && r.lowest.size() > 1) {
      r.lowest = {*std::min_element(r.lowest.begin(), r.lowest.end())};
      r.highest = {*std::max_element(r.highest.begin(), r.highest.end())};
    }
    ranges[tensors[t]] = r;
  }
  return ranges;
}

}  // namespace

FloatModel::FloatModel(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
FloatModel::~FloatModel() = default;
FloatModel::FloatModel(FloatModel&&) noexcept = default;
FloatModel& FloatModel::operator=(FloatModel&&) noexcept = default;

FloatModel FloatModel::load(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->graph = quantize::read_float_graph(onnx_reader::parse_model_file(path), path);
  return FloatModel(std::move(impl));
}

FloatModel FloatModel::from_bytes(const std::string& bytes, const std::string& source) {
  auto impl = std::make_shared<Impl>();
  impl->graph = quantize::read_float_graph(onnx_reader::parse_model_bytes(
      {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, source), source);
  return FloatModel(std::move(impl));
}

const std::string& FloatModel::source() const { return impl_->graph.source; }
std::vector<int64_t> FloatModel::input_dims() const { return impl_->graph.input_dims; }
std::vector<int64_t> FloatModel::output_dims() const { return impl_->graph.output_dims; }

FloatArray FloatModel::run(const FloatArray& inputs, const std::string& inputs_source) const {
  const FloatGraph& graph = impl_->graph;
  const FloatEvaluator evaluator(graph);
  const int64_t count = sample_count(inputs, graph.input_dims, graph.source, inputs_source);
  const size_t per_sample = inputs.values.size() / static_cast<size_t>(count);
  FloatArray out;
  out.shape = {count};
  size_t per_output = 1;
  for (int64_t d : graph.output_dims) out.shape.push_back(d), per_output *= static_cast<size_t>(d);
  out.values.resize(per_output * static_cast<size_t>(count));
  akida::Progress progress("run", count);
  parallel_chunks(count, worker_count(count), [&](int64_t begin, int64_t end, int) {
    FloatEvaluator::Workspace ws;
    for (int64_t i = begin; i < end; ++i) {
      evaluator.run(inputs.values.data() + static_cast<size_t>(i) * per_sample, ws);
      std::copy(evaluator.output(ws).begin(), evaluator.output(ws).end(),
                out.values.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i) * per_output));
      progress.advance();
    }
  });
  return out;
}

CalibrationRanges FloatModel::calibrate(const QuantizationParams& params,
                                        const CalibrationOptions& options) const {
  check_bits(params, source());
  const quantize::LayerPlan plan = quantize::plan_layers(impl_->graph, params);
  return calibrate_graph(impl_->graph, plan.calibrated_tensors(), params, options);
}

std::string FloatModel::quantize_calibrated(const QuantizationParams& params,
                                            const CalibrationRanges& ranges) const {
  check_bits(params, source());
  const quantize::LayerPlan plan = quantize::plan_layers(impl_->graph, params);
  const auto layers = quantize::quantize_layers(impl_->graph, plan, params, ranges);
  return quantize::write_model(impl_->graph, plan, layers, params).SerializeAsString();
}

std::string FloatModel::quantize(const QuantizationParams& params,
                                 const CalibrationOptions& options) const {
  return quantize_calibrated(params, calibrate(params, options));
}

std::string default_quantized_path(const std::string& model, const QuantizationParams& params) {
  const std::filesystem::path path(model);
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // QuantizeML keeps the base name before an existing "_i8_w8_a8"-like suffix.
  const std::string stem = path.stem().string();
  std::smatch match;
  const std::string base = std::regex_search(stem, match, std::regex(R"(_i\d_w\d_a\d)"))
                               ? stem.substr(0, static_cast<size_t>(match.position(0)))
                               : stem;
  const std::string name = base + "_i" + std::to_string(params.input_weight_bits) + "_w" +
                           std::to_string(params.weight_bits) + "_a" +
                           std::to_string(params.activation_bits) + extension;
  return (path.parent_path() / name).string();
}

void write_model_file(const std::string& bytes, const std::string& path) {
  akida::write_file_atomically(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace cnn2snn
