// Running an Akida model on integer inputs.
//
// Construction is the prepare step: it infers every layer's shapes, validates parameters and
// variables, and prepares one kernel per layer (the optimized kernels by default, see Kernels).
// forward()/predict() only compute, on one thread or several (set_threads).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "akida/model.h"
#include "akida/shapes.h"
#include "akida/thread_pool.h"

namespace akida {

class Progress;

// A batch of samples, NHWC row-major: values[((n * x + i) * y + j) * c + k].
template <typename T>
struct BatchOf {
  int64_t n = 0;
  Shape shape;
  std::vector<T> values;
};
using Batch = BatchOf<int32_t>;
using FloatBatch = BatchOf<float>;

// One layer kernel, prepared for fixed input shapes. eval() computes one sample.
class LayerKernel {
 public:
  virtual ~LayerKernel() = default;
  virtual Shape output_shape() const = 0;
  // inputs: one tensor per inbound layer (values of a single sample, (x, y, c) row-major).
  virtual void eval(const std::vector<const std::vector<int32_t>*>& inputs,
                    std::vector<int32_t>& output) = 0;
  // Float output layers (Dequantizer) override this; others convert eval()'s integers.
  virtual bool float_output() const { return false; }
  virtual void eval_float(const std::vector<const std::vector<int32_t>*>& inputs,
                          std::vector<float>& output);
  // Forgets state carried across calls (FIFOs of temporal layers).
  virtual void reset() {}
  // A kernel for another thread: the same prepared layer with its own scratch buffers (and a
  // copy of this one's state).
  virtual std::unique_ptr<LayerKernel> clone() const = 0;
  // Whether outputs depend on earlier samples (temporal FIFOs): such models run their samples
  // one after the other, in order.
  virtual bool stateful() const { return false; }
  // Lets eval() split its own work over `pool` (nullptr: the calling thread only). Kernels that
  // cannot split ignore it.
  virtual void use_threads(ThreadPool* pool) { (void)pool; }
};

// Which kernels an Engine runs: the optimized ones where they exist (the default), or only the
// readable reference kernels. Both give the same integers.
enum class Kernels { Optimized, Reference };

class Engine {
 public:
  // Keeps its own copy of `model` and prepares every layer's kernel, on every core of this
  // machine (set_threads() is for running). Throws ShapeError / UnsupportedError naming the
  // layer and field (bad parameters, variable shapes, layer kinds without a kernel yet): the
  // first failing layer's.
  explicit Engine(const Model& model, Kernels kernels = Kernels::Optimized);
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  const Model& model() const;
  Shape input_shape() const;
  // True when the model takes int8 inputs (InputData with input_signed), false for uint8.
  bool input_signed() const;
  // Inclusive range of valid input values (e.g. 0..255, -128..127, 0..15 for 4-bit v1 inputs).
  int32_t input_min() const;
  int32_t input_max() const;
  const std::vector<Shape>& output_shapes() const;  // per layer

  // Integers of the last integer layer (the layer before a final Dequantizer, else the last).
  // Throws ShapeError when the batch shape or a value's range does not fit the input layer.
  Batch forward(const Batch& inputs);
  // What the vendor's predict() returns: the Dequantizer's floats; for an Akida 1.0 last layer
  // without activation, (potential - threshold) / act_step; otherwise the integers as floats.
  FloatBatch predict(const Batch& inputs);
  // Every layer's integer output for the batch (the Dequantizer's entry has n and shape set but
  // no values). Samples run in order on one thread, or on several (set_threads).
  std::vector<Batch> forward_all(const Batch& inputs);
  void reset();
  // Advances `progress` by one per sample that forward(), predict() or forward_all() runs (it
  // must outlive those calls); nullptr stops.
  void set_progress(Progress* progress);

  // The threads forward(), forward_all() and predict() use: 1 (the default) the calling thread
  // only; n > 1 runs the samples of a batch in parallel, or, for temporal models (their FIFOs
  // need the samples in order), pipelines a batch of 4 or more frames over two of the threads
  // (the earlier layers on one frame while the later ones finish the frame before; the split
  // balances the layers' times measured on the second frame) and splits the work of each layer
  // for shorter batches; 0 one per core of this machine. Results are the same whatever the count.
  void set_threads(int threads);
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The reference (readable, loop-per-definition) kernel for one layer: the prepare step for that
// layer. Throws ShapeError / UnsupportedError naming the layer and field. The kernels of
// Convolutional, InputConvolutional and SeparableConvolutional layers read the layer's weights
// when they first run: the layer must outlive the kernel (the Engine's copy of the model does).
std::unique_ptr<LayerKernel> make_reference_kernel(const Layer& layer,
                                                   const std::vector<Shape>& input_shapes);

}  // namespace akida
