// Reference kernel factories, one per layer kind (one .cpp file each); kernel_registry.cpp
// dispatches make_reference_kernel() on the layer kind.
//
// Every factory is the prepare step of its layer: it checks parameters and variable shapes
// against the input shapes, converts the variables once into the layout its loop reads, and
// throws ShapeError / UnsupportedError naming the layer and field. (The Akida 1.0 convolution
// kernels convert their weights on their first run: V1Weights, v1_activation.h.)
#pragma once

#include <memory>
#include <vector>

#include "akida/engine.h"
#include "akida/runtime/geometry.h"

namespace akida::runtime {

using InputShapes = std::vector<Shape>;

// LayerKernel::clone() by copy construction, for kernels whose members copy as they should.
template <typename Derived>
class CloneableKernel : public LayerKernel {
 public:
  std::unique_ptr<LayerKernel> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// A kernel owned by another one (the reference fallback of an optimized kernel), cloned along
// with its owner.
class OwnedKernel {
 public:
  OwnedKernel() = default;
  explicit OwnedKernel(std::unique_ptr<LayerKernel> kernel) : kernel_(std::move(kernel)) {}
  OwnedKernel(const OwnedKernel& other) : kernel_(other.kernel_ ? other.kernel_->clone() : nullptr) {}
  OwnedKernel& operator=(const OwnedKernel& other) {
    kernel_ = other.kernel_ ? other.kernel_->clone() : nullptr;
    return *this;
  }
  OwnedKernel(OwnedKernel&&) noexcept = default;
  OwnedKernel& operator=(OwnedKernel&&) noexcept = default;
  LayerKernel* operator->() const { return kernel_.get(); }
  LayerKernel& operator*() const { return *kernel_; }

 private:
  std::unique_ptr<LayerKernel> kernel_;
};

// The optimized kernel of a layer where there is one (InputConv2D, Conv2D, DepthwiseConv2D,
// Dense1D, BufferTempConv, DepthwiseBufferTempConv, InputConvolutional, Convolutional,
// SeparableConvolutional: fast_kernels.cpp), else its reference kernel. Same results, same
// errors (the reference kernel is prepared first: it validates the layer).
std::unique_ptr<LayerKernel> make_fast_kernel(const Layer& layer, const InputShapes& in);

std::unique_ptr<LayerKernel> make_input_data_kernel(const Layer& layer, const InputShapes& in);
// Akida 1.0 compute layers (the neuron equation: v1_activation.h, docs/akida-v1.md).
std::unique_ptr<LayerKernel> make_input_convolutional_kernel(const Layer& layer,
                                                             const InputShapes& in);
std::unique_ptr<LayerKernel> make_convolutional_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_separable_convolutional_kernel(const Layer& layer,
                                                                 const InputShapes& in);
std::unique_ptr<LayerKernel> make_fully_connected_kernel(const Layer& layer, const InputShapes& in);
// InputConvolutional and Convolutional share one loop; they differ in the kernel's orientation
// (`rotate`: true convolution) and in the value that fills the padding.
std::unique_ptr<LayerKernel> make_v1_conv_kernel(const Layer& layer, const Shape& in, bool rotate,
                                                 int32_t padding_value);
std::unique_ptr<LayerKernel> make_input_conv2d_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_conv2d_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_depthwise_conv2d_kernel(const Layer& layer,
                                                          const InputShapes& in);
std::unique_ptr<LayerKernel> make_dense1d_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_dequantizer_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_buffer_temp_conv_kernel(const Layer& layer,
                                                          const InputShapes& in);
std::unique_ptr<LayerKernel> make_depthwise_buffer_temp_conv_kernel(const Layer& layer,
                                                                    const InputShapes& in);
std::unique_ptr<LayerKernel> make_add_kernel(const Layer& layer, const InputShapes& in);
std::unique_ptr<LayerKernel> make_concatenate_kernel(const Layer& layer, const InputShapes& in);

// Conv2D and InputConv2D share one loop; they differ in the kernel's orientation (Conv2D
// computes a true convolution, InputConv2D a cross-correlation) and in what fills the padding.
struct ConvOptions {
  bool rotate_kernel = true;       // correlate with weights rotated by 180°
  bool pad_with_padding_value = false;  // pad with the per-channel `padding_value` variable
};
std::unique_ptr<LayerKernel> make_conv_kernel(const Layer& layer, const Shape& in,
                                              const ConvOptions& options);

// The input history of a temporal layer (BufferTempConv, DepthwiseBufferTempConv): the last
// `fifo_size` frames it received, slot 0 the oldest and slot fifo_size - 1 the newest; slots not
// yet written hold zeros. Frames are stored as received (input_shift is applied on use).
// Defined in buffer_temp_conv.cpp.
class FrameFifo {
 public:
  // Reads parameter fifo_size. Throws ShapeError naming the layer and field when it is out of
  // range or when the history would exceed kMaxTensorElements values.
  FrameFifo(const Layer& layer, const Shape& frame);
  int64_t slots() const { return slots_; }
  // Stores `frame` (frame.size() values) as the newest slot and drops the oldest.
  void push(const std::vector<int32_t>& frame);
  // The frame_size values of slot t, 0 <= t < slots().
  const int32_t* slot(int64_t t) const;
  void reset();  // back to all zeros

 private:
  int64_t slots_ = 0;
  int64_t frame_size_ = 0;
  std::vector<int32_t> ring_;  // slots_ frames, the oldest at ring index oldest_
  int64_t oldest_ = 0;
};

// The only input shape of a single-input layer; ShapeError naming the layer otherwise.
const Shape& single_input_shape(const Layer& layer, const InputShapes& in);
// The per-input-channel left shifts (variable input_shift, each 0..31; absent: zeros).
std::vector<int32_t> read_input_shift(const Layer& layer, int64_t channels);

}  // namespace akida::runtime
