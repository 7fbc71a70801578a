#include "akida/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "akida/errors.h"
#include "akida/progress.h"
#include "akida/runtime/geometry.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/level_handoff.h"
#include "akida/runtime/v1_activation.h"

namespace akida {

using runtime::layer_context;

void LayerKernel::eval_float(const std::vector<const std::vector<int32_t>*>& inputs,
                             std::vector<float>& output) {
  std::vector<int32_t> ints;
  eval(inputs, ints);
  output.assign(ints.begin(), ints.end());
}

// What one thread needs to run samples: a set of kernels and the layer outputs of its sample.
// Context 0 holds the kernels prepared by the constructor; the others hold clones.
struct SampleContext {
  std::vector<std::unique_ptr<LayerKernel>> kernels;
  std::vector<std::vector<int32_t>> outputs;          // per layer
  std::vector<std::vector<uint8_t>> levels;           // per layer handing its levels as bytes
  std::vector<runtime::StagedBytes> stagings;         // per layer: its consumer's staging
  std::vector<int32_t> staged_max;                    // per layer: its input's bound when staged
  std::vector<int32_t> sample;                        // the sample being run
  std::vector<uint8_t> sample_bytes;                  // the same as bytes (sample_as_bytes)
  std::vector<const std::vector<int32_t>*> inputs;    // scratch for one layer's inputs
  std::vector<float> floats;                          // scratch for predict()
};

struct Engine::Impl {
  Model model;
  std::vector<Shape> shapes;                    // per layer
  std::vector<std::vector<size_t>> inbound;     // per layer: indices of its inbound layers
  // Per layer: whether forward() and predict() take its output as bytes (level_handoff.h).
  std::vector<bool> hands_bytes;
  bool sample_as_bytes = false;  // the input layer takes its uint8 image as bytes there
  std::vector<int64_t> only_consumer;  // per layer: the one layer it feeds, else -1
  std::vector<SampleContext> contexts;          // one per thread running samples
  Shape input_shape;
  bool input_signed = false;
  int32_t input_min = 0, input_max = 255;
  size_t last_int = 0;  // the layer forward() returns
  // An Akida 1.0 last layer without activation outputs potentials; predict() rescales them.
  std::optional<runtime::V1Activation> v1_readout;
  Progress* progress = nullptr;  // advanced once per sample run
  bool stateful = false;  // some kernel carries state across samples
  int threads = 1;
  std::unique_ptr<ThreadPool> pool;

  std::vector<std::unique_ptr<LayerKernel>>& kernels() { return contexts.front().kernels; }
  void prepare_kernels(Kernels choice);
  void plan_level_handoffs();
  bool takes_bytes(size_t layer) const {
    if (inbound[layer].empty()) return sample_as_bytes;
    return inbound[layer].size() == 1 && hands_bytes[inbound[layer].front()];
  }
  const std::vector<uint8_t>& bytes_input(const SampleContext& context, size_t layer) const {
    return inbound[layer].empty() ? context.sample_bytes : context.levels[inbound[layer].front()];
  }
  void read_input_range();
  void check_batch(const Batch& batch) const;
  // Runs every layer on sample s of `batch`; context.outputs[i] receives layer i's integers
  // (with `handoffs`, only for the layers that do not hand bytes).
  void run_sample(SampleContext& context, const Batch& batch, int64_t s, bool handoffs = true);
  // run_sample() in parts: the sample into the context, then layers [first, end).
  void start_sample(SampleContext& context, const Batch& batch, int64_t s, bool handoffs) const;
  void run_layers(SampleContext& context, size_t first, size_t end, bool handoffs) const;
  // Runs every sample of `batch`, then store(context, s) with its outputs in `context`: on
  // several threads when the model allows (for_each_sample, or run_pipelined).
  void run_batch(const Batch& batch, bool handoffs,
                 const std::function<void(SampleContext&, int64_t)>& store);
  // A temporal model's frames on two threads, each running its own layers (frames in order).
  bool can_pipeline(int64_t n) const;
  void run_pipelined(const Batch& batch, bool handoffs,
                     const std::function<void(SampleContext&, int64_t)>& store);
  void make_contexts(size_t count);
  void run_layer_with_bytes(SampleContext& context, size_t layer) const;
  void stage_sample(SampleContext& context, const Batch& batch, int64_t s) const;
  // Where `layer` may write its levels directly: the staging of the one layer it feeds.
  const runtime::StagedBytes* staging_for(SampleContext& context, size_t layer) const;
  const std::vector<const std::vector<int32_t>*>& inputs_of(SampleContext& context,
                                                            size_t layer) const;
  // Calls body(context, s) for every sample s < n: on several threads when the model allows.
  void for_each_sample(int64_t n, const std::function<void(SampleContext&, int64_t)>& body);
};

void Engine::Impl::prepare_kernels(Kernels choice) {
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < model.layers.size(); ++i) index_of.emplace(model.layers[i].name, i);
  const size_t n = model.layers.size();
  // Each layer's inputs first, then the kernels, built on every core: each depends on its own
  // layer and input shapes only, and packing their weights is most of an Engine's start-up
  // (hotdog's 8 ms on one core). An error is the one the first failing layer raises, as when
  // they are built in order.
  std::vector<std::vector<Shape>> input_shapes(n);
  std::vector<std::exception_ptr> errors(n);
  for (size_t i = 0; i < n; ++i) {
    const Layer& layer = model.layers[i];
    // infer_output_shapes() has checked that every inbound name is an earlier layer.
    std::vector<size_t> indices;
    for (const auto& name : layer.inbound) {
      indices.push_back(index_of.at(name));
      input_shapes[i].push_back(shapes[indices.back()]);
    }
    if (i > 0 && indices.empty())
      errors[i] = std::make_exception_ptr(UnsupportedError(
          layer_context(layer) + ": a second input layer; models with several inputs do not run yet"));
    inbound.push_back(std::move(indices));
  }
  std::vector<std::unique_ptr<LayerKernel>> built(n);
  auto build = [&](int64_t task) {
    const auto i = static_cast<size_t>(task);
    if (errors[i]) return;
    try {
      const Layer& layer = model.layers[i];
      auto kernel = choice == Kernels::Optimized ? runtime::make_fast_kernel(layer, input_shapes[i])
                                                 : make_reference_kernel(layer, input_shapes[i]);
      if (kernel->output_shape() != shapes[i])
        throw ShapeError(layer_context(layer) + ": its kernel computes " +
                         to_string(kernel->output_shape()) + ", the model's shapes say " +
                         to_string(shapes[i]));
      built[i] = std::move(kernel);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  const auto threads = static_cast<int>(std::min<size_t>(ThreadPool::hardware_threads(), n));
  if (threads > 1) {
    ThreadPool(threads).run(static_cast<int64_t>(n), build);
  } else {
    for (size_t i = 0; i < n; ++i) build(static_cast<int64_t>(i));
  }
  for (size_t i = 0; i < n; ++i) {
    if (errors[i]) std::rethrow_exception(errors[i]);
    stateful = stateful || built[i]->stateful();
    kernels().push_back(std::move(built[i]));
  }
  const Layer& last = model.layers.back();
  last_int = model.layers.size() - 1;
  if (last.kind == LayerKind::Dequantizer) last_int = inbound.back().front();
  if (runtime::is_v1_neural(last.kind) && last.param("activation", 0) == 0)
    v1_readout.emplace(last, shapes.back().c);
  plan_level_handoffs();
}

// A layer hands its levels as bytes when its kernel can, every layer it feeds takes them (a
// single-input optimized convolutional kernel, level_handoff.h) and the Engine does not return
// its output. An input layer with such a kernel (InputConvolutional, InputConv2D) takes its
// image as bytes.
void Engine::Impl::plan_level_handoffs() {
  const size_t layers = kernels().size();
  auto handoff = [&](size_t i) { return dynamic_cast<runtime::LevelHandoff*>(kernels()[i].get()); };
  std::vector<std::vector<size_t>> consumers(layers);
  for (size_t j = 0; j < layers; ++j)
    for (size_t i : inbound[j]) consumers[i].push_back(j);
  hands_bytes.assign(layers, false);
  only_consumer.assign(layers, -1);
  for (size_t i = 0; i < layers; ++i)
    if (consumers[i].size() == 1) only_consumer[i] = static_cast<int64_t>(consumers[i].front());
  // Temporal models keep int32 tensors between layers: their frames are pipelined over two
  // threads (can_pipeline), which a layer writing into the next one's staging would not allow.
  if (stateful) {
    sample_as_bytes = false;
    return;
  }
  sample_as_bytes = handoff(0) && inbound[0].empty() && input_min >= 0 && input_max <= 255;
  for (size_t i = 0; i + 1 < layers; ++i) {
    const bool levels = handoff(i) && handoff(i)->outputs_levels();
    hands_bytes[i] = levels && i != last_int && !consumers[i].empty() &&
                     std::all_of(consumers[i].begin(), consumers[i].end(), [&](size_t j) {
                       return inbound[j].size() == 1 && handoff(j) != nullptr;
                     });
  }
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
  // The range first, in one vectorized pass (a throw inside the loop would keep it scalar: 3%
  // of an image model's time); the offending value only when there is one.
  int32_t lo = input_min, hi = input_max;
  runtime::widen_range(batch.values.data(), static_cast<int64_t>(batch.values.size()), lo, hi);
  if (lo >= input_min && hi <= input_max) return;
  for (size_t i = 0; i < batch.values.size(); ++i)
    if (batch.values[i] < input_min || batch.values[i] > input_max)
      throw ShapeError("input value " + std::to_string(batch.values[i]) + " at index " +
                       std::to_string(i) + " is outside the model input range [" +
                       std::to_string(input_min) + ", " + std::to_string(input_max) + "]");
}

const std::vector<const std::vector<int32_t>*>& Engine::Impl::inputs_of(SampleContext& context,
                                                                        size_t layer) const {
  context.inputs.clear();
  if (inbound[layer].empty()) context.inputs.push_back(&context.sample);
  for (size_t index : inbound[layer]) context.inputs.push_back(&context.outputs[index]);
  return context.inputs;
}

void Engine::Impl::start_sample(SampleContext& context, const Batch& batch, int64_t s,
                                bool handoffs) const {
  const int64_t size = batch.shape.size();
  context.outputs.resize(context.kernels.size());
  context.levels.resize(context.kernels.size());
  context.stagings.resize(context.kernels.size());
  context.staged_max.assign(context.kernels.size(), -1);
  if (handoffs && sample_as_bytes)
    stage_sample(context, batch, s);
  else
    context.sample.assign(batch.values.begin() + s * size, batch.values.begin() + (s + 1) * size);
}

void Engine::Impl::run_layers(SampleContext& context, size_t first, size_t end,
                              bool handoffs) const {
  for (size_t i = first; i < end; ++i) {
    if (context.kernels[i]->float_output()) continue;  // float layers are evaluated by predict()
    if (handoffs && (hands_bytes[i] || takes_bytes(i)))
      run_layer_with_bytes(context, i);
    else
      context.kernels[i]->eval(inputs_of(context, i), context.outputs[i]);
  }
}

void Engine::Impl::run_sample(SampleContext& context, const Batch& batch, int64_t s,
                              bool handoffs) {
  start_sample(context, batch, s, handoffs);
  run_layers(context, 0, context.kernels.size(), handoffs);
  if (progress) progress->advance();
}

// The image as bytes for the input layer: straight into its staging where it takes it there.
void Engine::Impl::stage_sample(SampleContext& context, const Batch& batch, int64_t s) const {
  const int64_t size = batch.shape.size();
  const int32_t* values = batch.values.data() + s * size;
  auto& first = dynamic_cast<runtime::LevelHandoff&>(*context.kernels.front());
  if (const std::optional<runtime::StagedBytes> to = first.byte_staging(input_max)) {
    const int64_t row = to->row_items * to->channels;
    for (int64_t r = 0; r < to->rows; ++r)
      runtime::narrow_to_bytes(values + r * row, row, to->data + r * to->row_stride);
    context.staged_max.front() = input_max;
    return;
  }
  context.sample_bytes.resize(static_cast<size_t>(size));
  runtime::narrow_to_bytes(values, size, context.sample_bytes.data());
}

const runtime::StagedBytes* Engine::Impl::staging_for(SampleContext& context, size_t layer) const {
  const int64_t next = only_consumer[layer];
  if (next < 0) return nullptr;
  const int32_t max_level =
      dynamic_cast<runtime::LevelHandoff&>(*context.kernels[layer]).max_level();
  const std::optional<runtime::StagedBytes> to =
      dynamic_cast<runtime::LevelHandoff&>(*context.kernels[next]).byte_staging(max_level);
  if (!to) return nullptr;
  context.stagings[layer] = *to;
  context.staged_max[next] = max_level;
  return &context.stagings[layer];
}

void Engine::Impl::run_layer_with_bytes(SampleContext& context, size_t layer) const {
  runtime::LevelsIn in;
  if (context.staged_max[layer] >= 0)
    in.staged_max = context.staged_max[layer];
  else if (takes_bytes(layer))
    in.bytes = &bytes_input(context, layer);
  else
    in.ints = inputs_of(context, layer).front();
  runtime::LevelsOut out;
  if (!hands_bytes[layer])
    out.ints = &context.outputs[layer];
  else if (!(out.staged = staging_for(context, layer)))
    out.bytes = &context.levels[layer];
  dynamic_cast<runtime::LevelHandoff&>(*context.kernels[layer]).eval_levels(in, out);
}

void Engine::Impl::for_each_sample(int64_t n,
                                   const std::function<void(SampleContext&, int64_t)>& body) {
  if (threads <= 1 || stateful || n < 2) {
    for (int64_t s = 0; s < n; ++s) body(contexts.front(), s);
    return;
  }
  // One context per thread (the clones are made once), each taking the next sample in turn.
  make_contexts(static_cast<size_t>(threads));
  std::atomic<int64_t> next{0};
  pool->run(threads, [&](int64_t t) {
    for (int64_t s = next++; s < n; s = next++) body(contexts[t], s);
  });
}

void Engine::Impl::make_contexts(size_t count) {
  while (contexts.size() < count) {
    SampleContext context;
    for (const auto& kernel : kernels()) context.kernels.push_back(kernel->clone());
    contexts.push_back(std::move(context));
  }
}

void Engine::Impl::run_batch(const Batch& batch, bool handoffs,
                             const std::function<void(SampleContext&, int64_t)>& store) {
  if (can_pipeline(batch.n)) return run_pipelined(batch, handoffs, store);
  for_each_sample(batch.n, [&](SampleContext& context, int64_t s) {
    run_sample(context, batch, s, handoffs);
    store(context, s);
  });
}

namespace {

// Pipelining pays from a few frames on; the first two run on one thread (the second timed).
constexpr int64_t kMinPipelinedFrames = 4;

// The layer from which the second thread takes over: the split of the per-layer times whose
// slower side is fastest. 0 when no split makes that side at most 80% of the whole (one layer
// dominates: two threads would gain little).
size_t balanced_split(const std::vector<double>& seconds) {
  double total = 0;
  for (double t : seconds) total += t;
  size_t best = 0;
  double best_side = 0.8 * total, before = 0;
  for (size_t k = 1; k < seconds.size(); ++k) {
    before += seconds[k - 1];
    const double side = std::max(before, total - before);
    if (side < best_side) {
      best_side = side;
      best = k;
    }
  }
  return best;
}

}  // namespace

// Temporal models carry state from frame to frame, so their frames cannot run side by side;
// their layers can: while the second thread runs the later layers on frame s, the first runs
// the earlier ones on frame s + 1, each layer still seeing its frames in order. Not with byte
// hand-offs (a layer writes into the next layer's staging): plan_level_handoffs() plans none
// for temporal models.
bool Engine::Impl::can_pipeline(int64_t n) const {
  return threads > 1 && stateful && n >= kMinPipelinedFrames && contexts.front().kernels.size() > 1 &&
         !sample_as_bytes && std::none_of(hands_bytes.begin(), hands_bytes.end(), [](bool b) { return b; });
}

void Engine::Impl::run_pipelined(const Batch& batch, bool handoffs,
                                 const std::function<void(SampleContext&, int64_t)>& store) {
  make_contexts(2);  // before any reference into `contexts`, which it may reallocate
  SampleContext& first = contexts[0];
  SampleContext& second = contexts[1];
  const size_t layers = first.kernels.size();
  // Frame 0 warms the kernels up; frame 1 is timed layer by layer to choose the split.
  run_sample(first, batch, 0, handoffs);
  store(first, 0);
  std::vector<double> seconds(layers);
  start_sample(first, batch, 1, handoffs);
  for (size_t i = 0; i < layers; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run_layers(first, i, i + 1, handoffs);
    seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  store(first, 1);
  if (progress) progress->advance();
  const size_t split = balanced_split(seconds);
  if (split == 0) {
    for (int64_t s = 2; s < batch.n; ++s) {
      run_sample(first, batch, s, handoffs);
      store(first, s);
    }
    return;
  }
  // The second context runs layers [split, end) with the kernels that hold their state, moved
  // there for the batch (its clones of the earlier layers only answer float_output()). No layer
  // splits its work meanwhile: both threads are busy, and a task must not use the pool.
  auto move_state = [&] {
    for (size_t i = split; i < layers; ++i) std::swap(first.kernels[i], second.kernels[i]);
  };
  auto use_pool = [&](ThreadPool* with) {
    for (size_t i = 0; i < layers; ++i)
      (i < split ? first : second).kernels[i]->use_threads(with);
  };
  move_state();
  use_pool(nullptr);
  // Undone however the batch ends (a stage's exception included).
  struct Restore {
    std::function<void()> undo;
    ~Restore() { undo(); }
  } restore{[&] {
    use_pool(pool.get());
    move_state();
  }};
  second.outputs.resize(layers);
  second.staged_max.assign(layers, -1);
  // Frame s's outputs of the first layers go from one thread to the other through slot s % 2
  // (vectors swapped, not copied), so that the first thread may run one frame ahead (four slots
  // measured no better). The threads spin on two counters rather than sleep: a TENNs frame
  // takes about 0.6 ms, and with a condition variable's wake-ups two threads ran 1.42 times as
  // many frames as one, against 1.7 to 1.8 spinning.
  std::vector<std::vector<int32_t>> slots[2] = {std::vector<std::vector<int32_t>>(split),
                                                std::vector<std::vector<int32_t>>(split)};
  std::atomic<int64_t> published{1}, taken{1};  // the last frame handed over / taken over
  std::atomic<bool> failed{false};
  auto wait_until = [&](const std::atomic<int64_t>& counter, int64_t frame) {
    for (int spins = 0; counter.load(std::memory_order_acquire) < frame; ++spins) {
      if (failed.load(std::memory_order_relaxed)) return false;
      if (spins % 64 == 63) std::this_thread::yield();
    }
    return true;
  };
  auto stage = [&](int64_t which) {
    try {
      for (int64_t s = 2; s < batch.n; ++s) {
        std::vector<std::vector<int32_t>>& slot = slots[s % 2];
        if (which == 0) {
          start_sample(first, batch, s, handoffs);
          run_layers(first, 0, split, handoffs);
          if (!wait_until(taken, s - 2)) return;  // frame s - 2 has left the slot
          for (size_t i = 0; i < split; ++i) slot[i].swap(first.outputs[i]);
          published.store(s, std::memory_order_release);
        } else {
          if (!wait_until(published, s)) return;
          for (size_t i = 0; i < split; ++i) slot[i].swap(second.outputs[i]);
          taken.store(s, std::memory_order_release);
          run_layers(second, split, layers, handoffs);
          store(second, s);
          if (progress) progress->advance();
        }
      }
    } catch (...) {
      failed.store(true);
      throw;
    }
  };
  pool->run(2, stage);
}

Engine::Engine(const Model& model, Kernels kernels) : impl_(std::make_unique<Impl>()) {
  impl_->contexts.resize(1);
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

// The batch `values` of n samples of `shape`, allocated before samples fill it in any order.
template <typename T>
BatchOf<T> allocated_batch(int64_t n, const Shape& shape) {
  return BatchOf<T>{n, shape, std::vector<T>(static_cast<size_t>(n * shape.size()))};
}

template <typename T>
void store(BatchOf<T>& batch, int64_t s, const std::vector<T>& values) {
  std::copy(values.begin(), values.end(), batch.values.begin() + s * batch.shape.size());
}

// predict() of a v1 model whose last layer has no activation: "the model discrete potentials"
// with "a shift and a scale" applied (akida Model.evaluate docs), (p − threshold) / act_step.
void v1_floats(const runtime::V1Activation& readout, const std::vector<int32_t>& potentials,
               int64_t neurons, std::vector<float>& floats) {
  floats.resize(potentials.size());
  for (size_t i = 0; i < potentials.size(); ++i)
    floats[i] = readout.to_float(potentials[i], static_cast<int64_t>(i) % neurons);
}

}  // namespace

Batch Engine::forward(const Batch& inputs) {
  impl_->check_batch(inputs);
  Batch result = allocated_batch<int32_t>(inputs.n, impl_->shapes[impl_->last_int]);
  impl_->run_batch(inputs, /*handoffs=*/true, [&](SampleContext& context, int64_t s) {
    store(result, s, context.outputs[impl_->last_int]);
  });
  return result;
}

std::vector<Batch> Engine::forward_all(const Batch& inputs) {
  impl_->check_batch(inputs);
  const size_t layers = impl_->kernels().size();
  std::vector<Batch> result(layers);
  for (size_t i = 0; i < layers; ++i)
    result[i] = impl_->kernels()[i]->float_output()
                    ? Batch{inputs.n, impl_->shapes[i], {}}
                    : allocated_batch<int32_t>(inputs.n, impl_->shapes[i]);
  // Without hand-offs: every layer's int32 output.
  impl_->run_batch(inputs, /*handoffs=*/false, [&](SampleContext& context, int64_t s) {
    for (size_t i = 0; i < layers; ++i)
      if (!context.kernels[i]->float_output()) store(result[i], s, context.outputs[i]);
  });
  return result;
}

FloatBatch Engine::predict(const Batch& inputs) {
  impl_->check_batch(inputs);
  const size_t last = impl_->kernels().size() - 1;
  FloatBatch result = allocated_batch<float>(inputs.n, impl_->shapes[last]);
  impl_->run_batch(inputs, /*handoffs=*/true, [&](SampleContext& context, int64_t s) {
    LayerKernel& final_kernel = *context.kernels[last];
    std::vector<float>& floats = context.floats;
    if (final_kernel.float_output())
      final_kernel.eval_float(impl_->inputs_of(context, last), floats);
    else if (impl_->v1_readout)
      v1_floats(*impl_->v1_readout, context.outputs[last], result.shape.c, floats);
    else
      floats.assign(context.outputs[last].begin(), context.outputs[last].end());
    store(result, s, floats);
  });
  return result;
}

void Engine::reset() {
  for (auto& context : impl_->contexts)
    for (auto& kernel : context.kernels) kernel->reset();
}

void Engine::set_progress(Progress* progress) { impl_->progress = progress; }

void Engine::set_threads(int threads) {
  if (threads < 0)
    throw ShapeError("threads is " + std::to_string(threads) +
                     ", expected 0 (one per core) or a positive count");
  const int resolved = threads == 0 ? ThreadPool::hardware_threads() : threads;
  if (resolved == impl_->threads) return;
  impl_->threads = resolved;
  impl_->pool = impl_->threads > 1 ? std::make_unique<ThreadPool>(impl_->threads) : nullptr;
  // Temporal models keep their samples in order: their layers split their own work instead.
  for (auto& kernel : impl_->kernels()) kernel->use_threads(impl_->stateful ? impl_->pool.get() : nullptr);
}

int Engine::threads() const { return impl_->threads; }

}  // namespace akida
