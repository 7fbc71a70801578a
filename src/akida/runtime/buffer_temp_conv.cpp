#include <algorithm>
#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

// ---- FrameFifo (shared with depthwise_buffer_temp_conv.cpp) ----

FrameFifo::FrameFifo(const Layer& layer, const Shape& frame) : frame_size_(frame.size()) {
  // The hardware takes 2..10 (akida-spec §4.1); a file may hold other values, which run as
  // long as the history stays within the tensor size guard.
  slots_ = required_param(layer, "fifo_size", 1, 1 << 16);
  if (slots_ * frame_size_ > kMaxTensorElements)
    throw ShapeError(layer_context(layer) + ": parameter 'fifo_size' is " +
                     std::to_string(slots_) + ", a history of that many " + to_string(frame) +
                     " frames exceeds " + std::to_string(kMaxTensorElements) + " values");
  ring_.assign(slots_ * frame_size_, 0);
}

void FrameFifo::push(const std::vector<int32_t>& frame) {
  // The oldest frame's storage receives the newest one; the next ring index is then the oldest.
  std::copy(frame.begin(), frame.end(), ring_.begin() + oldest_ * frame_size_);
  oldest_ = (oldest_ + 1) % slots_;
}

const int32_t* FrameFifo::slot(int64_t t) const {
  return &ring_[((oldest_ + t) % slots_) * frame_size_];
}

void FrameFifo::reset() {
  std::fill(ring_.begin(), ring_.end(), 0);
  oldest_ = 0;
}

namespace {

// BufferTempConv: a 1x1 convolution over the channels of the last T = fifo_size frames stacked
// along the channel axis (fbz-format.md "Verified Akida 2.0 arithmetic"):
//   out[x, y, f] = Σ_t Σ_c w[t*C + c, f] * (frame_t[x, y, c] << input_shift[c])
// with t = 0 the oldest frame and t = T - 1 the current input; weights stored (1, 1, T*C, F).
// The history persists across eval() calls (consecutive samples are consecutive frames).
class BufferTempConvKernel final : public CloneableKernel<BufferTempConvKernel> {
 public:
  BufferTempConvKernel(const Layer& layer, const Shape& in) : in_(in), fifo_(layer, in) {
    filters_ = required_param(layer, "filters", 1, 1 << 24);
    const int64_t taps = fifo_.slots() * in.c;  // fits uint32: bounded by kMaxTensorElements
    const Variable& weights = require_int_variable(
        layer, "weights", {1, 1, static_cast<uint32_t>(taps), static_cast<uint32_t>(filters_)});
    weights_ = weights.ints32();
    const std::vector<int64_t> l1 = filter_l1(weights_, filters_);
    input_shift_ = read_input_shift(layer, in.c);
    check_accumulator_bound(layer, l1, input_shift_);
    post_ops_ = prepare_post_ops(layer, Shape{in.x, in.y, filters_});
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    fifo_.push(*inputs.front());
    const int64_t pixels = in_.x * in_.y, channels = in_.c;
    std::vector<int64_t> acc(pixels * filters_, 0);
    for (int64_t t = 0; t < fifo_.slots(); ++t) {
      const int32_t* frame = fifo_.slot(t);
      for (int64_t p = 0; p < pixels; ++p) {
        int64_t* out_pixel = &acc[p * filters_];
        for (int64_t c = 0; c < channels; ++c) {
          const int64_t v = int64_t{frame[p * channels + c]} << input_shift_[c];
          if (v == 0) continue;
          const int32_t* w = &weights_[(t * channels + c) * filters_];
          // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|v| below 2^63.
          for (int64_t f = 0; f < filters_; ++f) out_pixel[f] += v * w[f];
        }
      }
    }
    apply_post_ops(post_ops_, acc, output);
  }

  void reset() override { fifo_.reset(); }
  bool stateful() const override { return true; }

 private:
  Shape in_;
  FrameFifo fifo_;
  int64_t filters_ = 0;
  std::vector<int32_t> weights_;  // (T*C, F) row-major
  std::vector<int32_t> input_shift_;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_buffer_temp_conv_kernel(const Layer& layer,
                                                          const InputShapes& in) {
  return std::make_unique<BufferTempConvKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
