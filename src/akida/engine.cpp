#include "akida/engine.h"

#include <map>

#include "akida/errors.h"
#include "akida/progress.h"
#include "akida/runtime/geometry.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/v1_activation.h"

namespace akida {

using runtime::layer_context;

void LayerKernel::eval_float(const std::vector<const std::vector<int32_t>*>& inputs,
                             std::vector<float>& output) {
  std::vector<int32_t> ints;
  eval(inputs, ints);
  output.assign(ints.begin(), ints.end());
}

struct Engine::Impl {
  Model model;
  std::vector<Shape> shapes;                    // per layer
  std::vector<std::vector<size_t>> inbound;     // per layer: indices of its inbound layers
  std::vector<std::unique_ptr<LayerKernel>> kernels;
  Shape input_shape;
  bool input_signed = false;
  int32_t input_min = 0, input_max = 255;
  size_t last_int = 0;  // the layer forward() returns
  // An Akida 1.0 last layer without activation outputs potentials; predict() rescales them.
  std::optional<runtime::V1Activation> v1_readout;
  Progress* progress = nullptr;  // advanced once per sample run

  void prepare_kernels(Kernels choice);
  void read_input_range();
  void check_batch(const Batch& batch) const;
  // Runs every layer on one sample; outputs[i] receives layer i's integers.
  void run_sample(const std::vector<int32_t>& sample, std::vector<std::vector<int32_t>>& outputs);
  std::vector<const std::vector<int32_t>*> inputs_of(
      size_t layer, const std::vector<int32_t>& sample,
      const std::vector<std::vector<int32_t>>& outputs) const;
};

void Engine::Impl::prepare_kernels(Kernels choice) {
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < model.layers.size(); ++i) index_of.emplace(model.layers[i].name, i);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    // infer_output_shapes() has checked that every inbound name is an earlier layer.
    std::vector<size_t> indices;
    std::vector<Shape> input_shapes;
    for (const auto& name : layer.inbound) {
      indices.push_back(index_of.at(name));
      input_shapes.push_back(shapes[indices.back()]);
    }
    if (i > 0 && indices.empty())
      throw UnsupportedError(layer_context(layer) +
                             ": a second input layer; models with several inputs do not run yet");
    auto kernel = choice == Kernels::Optimized ? runtime::make_fast_kernel(layer, input_shapes)
                                               : make_reference_kernel(layer, input_shapes);
    if (kernel->output_shape() != shapes[i])
      throw ShapeError(layer_context(layer) + ": its kernel computes " +
                       to_string(kernel->output_shape()) + ", the model's shapes say " +
                       to_string(shapes[i]));
    inbound.push_back(std::move(indices));
    kernels.push_back(std::move(kernel));
  }
  const Layer& last = model.layers.back();
  last_int = model.layers.size() - 1;
  if (last.kind == LayerKind::Dequantizer) last_int = inbound.back().front();
  if (runtime::is_v1_neural(last.kind) && last.param("activation", 0) == 0)
    v1_readout.emplace(last, shapes.back().c);
}

void Engine::Impl::read_input_range() {
  const Layer& first = model.layers.front();
  if (first.kind != LayerKind::InputData) return;  // image input layers take uint8 pixels
  const int32_t bits = runtime::required_param(first, "input_bits", 1, 31);
  input_signed = runtime::param_in_range(first, "input_signed", 0, 1) == 1;
  if (input_signed) {
    input_min = -(int32_t{1} << (bits - 1));
    input_max = (int32_t{1} << (bits - 1)) - 1;
  } else {
    input_min = 0;
    input_max = static_cast<int32_t>((int64_t{1} << bits) - 1);
  }
}

void Engine::Impl::check_batch(const Batch& batch) const {
  if (batch.shape != input_shape)
    throw ShapeError("input shape " + to_string(batch.shape) + " does not match the model input " +
                     to_string(input_shape));
  if (batch.n < 0 || batch.values.size() != static_cast<size_t>(batch.n * input_shape.size()))
    throw ShapeError("input batch of " + std::to_string(batch.n) + " samples of shape " +
                     to_string(batch.shape) + " holds " + std::to_string(batch.values.size()) +
                     " values, expected " + std::to_string(batch.n * input_shape.size()));
  for (size_t i = 0; i < batch.values.size(); ++i)
    if (batch.values[i] < input_min || batch.values[i] > input_max)
      throw ShapeError("input value " + std::to_string(batch.values[i]) + " at index " +
                       std::to_string(i) + " is outside the model input range [" +
                       std::to_string(input_min) + ", " + std::to_string(input_max) + "]");
}

std::vector<const std::vector<int32_t>*> Engine::Impl::inputs_of(
    size_t layer, const std::vector<int32_t>& sample,
    const std::vector<std::vector<int32_t>>& outputs) const {
  if (inbound[layer].empty()) return {&sample};
  std::vector<const std::vector<int32_t>*> inputs;
  for (size_t index : inbound[layer]) inputs.push_back(&outputs[index]);
  return inputs;
}

void Engine::Impl::run_sample(const std::vector<int32_t>& sample,
                              std::vector<std::vector<int32_t>>& outputs) {
  outputs.resize(kernels.size());
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (kernels[i]->float_output()) continue;  // float layers are evaluated by predict()
    kernels[i]->eval(inputs_of(i, sample, outputs), outputs[i]);
  }
  if (progress) progress->advance();
}

Engine::Engine(const Model& model, Kernels kernels) : impl_(std::make_unique<Impl>()) {
  impl_->model = model;
  impl_->shapes = infer_output_shapes(model);  // also checks the first layer and inbound names
  impl_->input_shape = model_input_shape(model);
  impl_->read_input_range();
  impl_->prepare_kernels(kernels);
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const Model& Engine::model() const { return impl_->model; }
Shape Engine::input_shape() const { return impl_->input_shape; }
bool Engine::input_signed() const { return impl_->input_signed; }
int32_t Engine::input_min() const { return impl_->input_min; }
int32_t Engine::input_max() const { return impl_->input_max; }
const std::vector<Shape>& Engine::output_shapes() const { return impl_->shapes; }

namespace {

// Copies one sample of `n` into its slot of `batch` (allocated on the first sample).
template <typename T>
void store_sample(BatchOf<T>& batch, int64_t n, int64_t sample, const Shape& shape,
                  const std::vector<T>& values) {
  if (batch.values.empty()) {
    batch.n = n;
    batch.shape = shape;
    batch.values.resize(n * shape.size());
  }
  std::copy(values.begin(), values.end(), batch.values.begin() + sample * shape.size());
}

// predict() of a v1 model whose last layer has no activation: "the model discrete potentials"
// with "a shift and a scale" applied (akida Model.evaluate docs), (p − threshold) / act_step.
void v1_floats(const runtime::V1Activation& readout, const std::vector<int32_t>& potentials,
               int64_t neurons, std::vector<float>& floats) {
  floats.resize(potentials.size());
  for (size_t i = 0; i < potentials.size(); ++i)
    floats[i] = readout.to_float(potentials[i], static_cast<int64_t>(i) % neurons);
}

std::vector<int32_t> sample_of(const Batch& batch, int64_t s) {
  const int64_t size = batch.shape.size();
  return {batch.values.begin() + s * size, batch.values.begin() + (s + 1) * size};
}

}  // namespace

Batch Engine::forward(const Batch& inputs) {
  impl_->check_batch(inputs);
  Batch result{inputs.n, impl_->shapes[impl_->last_int], {}};
  std::vector<std::vector<int32_t>> outputs;
  for (int64_t s = 0; s < inputs.n; ++s) {
    impl_->run_sample(sample_of(inputs, s), outputs);
    store_sample(result, inputs.n, s, result.shape, outputs[impl_->last_int]);
  }
  return result;
}

std::vector<Batch> Engine::forward_all(const Batch& inputs) {
  impl_->check_batch(inputs);
  const size_t layers = impl_->kernels.size();
  std::vector<Batch> result(layers);
  for (size_t i = 0; i < layers; ++i) result[i] = Batch{inputs.n, impl_->shapes[i], {}};
  std::vector<std::vector<int32_t>> outputs;
  for (int64_t s = 0; s < inputs.n; ++s) {
    impl_->run_sample(sample_of(inputs, s), outputs);
    for (size_t i = 0; i < layers; ++i)
      if (!impl_->kernels[i]->float_output())
        store_sample(result[i], inputs.n, s, impl_->shapes[i], outputs[i]);
  }
  return result;
}

FloatBatch Engine::predict(const Batch& inputs) {
  impl_->check_batch(inputs);
  const size_t last = impl_->kernels.size() - 1;
  LayerKernel& final_kernel = *impl_->kernels[last];
  FloatBatch result{inputs.n, impl_->shapes[last], {}};
  std::vector<std::vector<int32_t>> outputs;
  std::vector<float> floats;
  for (int64_t s = 0; s < inputs.n; ++s) {
    const std::vector<int32_t> sample = sample_of(inputs, s);
    impl_->run_sample(sample, outputs);
    if (final_kernel.float_output())
      final_kernel.eval_float(impl_->inputs_of(last, sample, outputs), floats);
    else if (impl_->v1_readout)
      v1_floats(*impl_->v1_readout, outputs[last], result.shape.c, floats);
    else
      floats.assign(outputs[last].begin(), outputs[last].end());
    store_sample(result, inputs.n, s, result.shape, floats);
  }
  return result;
}

void Engine::reset() {
  for (auto& kernel : impl_->kernels) kernel->reset();
}

void Engine::set_progress(Progress* progress) { impl_->progress = progress; }

}  // namespace akida
