// The oneDNN peer of bench_runtime: for each .fbz, the same layer stack as int8 oneDNN
// primitives (u8 activations × s8 weights, requantized to u8 with an output scale and ReLU fused
// into each convolution, then its max pooling), timed one sample at a time. It computes what a
// tuned CPU library spends on the model's arithmetic; its integers are not Akida's (oneDNN
// rounds its float scales differently), so only the times are compared.
//
// Layers: InputConv2D, Conv2D, DepthwiseConv2D (grouped convolution) with max or global average
// pooling, Dense1D (inner product), and the Akida 1.0 InputConvolutional, Convolutional,
// SeparableConvolutional (depthwise then 1x1) and FullyConnected (their threshold activation
// stands as the same requantization); InputData and a final Dequantizer cost nothing. A model with
// any other layer is reported as not comparable.
//
#include "onednn_chain.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "akida/runtime/geometry.h"  // the runtime's own reading of kernel and pooling parameters

namespace bench {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

struct Step {
  dnnl::primitive primitive;
  std::unordered_map<int, memory> args;
};

struct Chain {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::vector<Step> steps;
  std::vector<memory> keep;  // weights
  memory input;
};

memory::dim same_pad_before(memory::dim in, memory::dim k, memory::dim s) {
  const memory::dim out = (in + s - 1) / s;
  return std::max<memory::dim>((out - 1) * s + k - in, 0) / 2;
}
memory::dim same_pad_after(memory::dim in, memory::dim k, memory::dim s) {
  const memory::dim out = (in + s - 1) / s;
  return std::max<memory::dim>((out - 1) * s + k - in, 0) - same_pad_before(in, k, s);
}

memory random_memory(const dnnl::engine& engine, const memory::desc& md, int lo, int hi) {
  memory m(md, engine);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> d(lo, hi);
  auto* p = static_cast<int8_t*>(m.get_data_handle());
  for (size_t i = 0; i < md.get_size(); ++i) p[i] = static_cast<int8_t>(d(rng));
  return m;
}

// conv (+ fused scale and ReLU to u8) then its pooling; returns the output memory. Kernel,
// stride, padding and pooling as the runtime reads them (Akida 2.0 and 1.0 names).
memory add_conv(Chain& c, const memory& src, const akida::Layer& layer, bool depthwise,
                bool with_pooling = true) {
  const auto& s = src.get_desc().dims();  // N, C, H(=x), W(=y)
  const akida::runtime::ConvParams params = akida::runtime::read_conv_params(layer);
  const memory::dim k = params.kernel.size_x, stride = params.kernel.stride_x;
  const bool same = params.padding != akida::runtime::Padding::Valid;
  const memory::dim f = depthwise ? s[1] : layer.param("filters", 1);
  const memory::dims pad_l = same ? memory::dims{same_pad_before(s[2], k, stride), same_pad_before(s[3], k, stride)}
                                  : memory::dims{0, 0};
  const memory::dims pad_r = same ? memory::dims{same_pad_after(s[2], k, stride), same_pad_after(s[3], k, stride)}
                                  : memory::dims{0, 0};
  const memory::dim ox = (s[2] + pad_l[0] + pad_r[0] - k) / stride + 1;
  const memory::dim oy = (s[3] + pad_l[1] + pad_r[1] - k) / stride + 1;
  const memory::dims wdims = depthwise ? memory::dims{f, 1, 1, k, k} : memory::dims{f, s[1], k, k};
  memory::desc src_md(s, dt::u8, tag::any), w_md(wdims, dt::s8, tag::any),
      dst_md({1, f, ox, oy}, dt::u8, tag::any);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, w_md, dst_md,
                                    {stride, stride}, pad_l, pad_r);
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {1.0f / 256});
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  attr.set_post_ops(ops);
  dnnl::convolution_forward::primitive_desc pd(d, attr, c.engine);
  memory in = src;
  if (pd.src_desc() != src.get_desc()) {  // reorder into the layout the primitive prefers
    in = memory(pd.src_desc(), c.engine);
    c.steps.push_back({dnnl::reorder(src, in), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, in}}});
  }
  memory w = random_memory(c.engine, pd.weights_desc(), -8, 8);
  c.keep.push_back(w);
  memory out(pd.dst_desc(), c.engine);
  c.steps.push_back({dnnl::convolution_forward(pd),
                     {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out}}});
  const int pool = with_pooling ? static_cast<int>(params.pool) : 0;
  if (pool == 0) return out;
  const auto& o = out.get_desc().dims();
  memory::dims window, strides, pl{0, 0}, pr{0, 0};
  if (pool == 1) {
    const memory::dim ps = params.pool_window.size_x, pst = params.pool_window.stride_x;
    window = {ps, ps};
    strides = {pst, pst};
    if (same) {
      pl = {same_pad_before(o[2], ps, pst), same_pad_before(o[3], ps, pst)};
      pr = {same_pad_after(o[2], ps, pst), same_pad_after(o[3], ps, pst)};
    }
  } else {
    window = {o[2], o[3]};
    strides = {1, 1};
  }
  const memory::dim px = (o[2] + pl[0] + pr[0] - window[0]) / strides[0] + 1;
  const memory::dim py = (o[3] + pl[1] + pr[1] - window[1]) / strides[1] + 1;
  memory::desc pool_dst({1, f, px, py}, dt::u8, tag::any);
  dnnl::pooling_forward::desc pdsc(dnnl::prop_kind::forward_inference,
                                   pool == 1 ? dnnl::algorithm::pooling_max
                                             : dnnl::algorithm::pooling_avg_exclude_padding,
                                   out.get_desc(), pool_dst, strides, window, pl, pr);
  dnnl::pooling_forward::primitive_desc ppd(pdsc, c.engine);
  memory pooled(ppd.dst_desc(), c.engine);
  c.steps.push_back({dnnl::pooling_forward(ppd), {{DNNL_ARG_SRC, out}, {DNNL_ARG_DST, pooled}}});
  return pooled;
}

// A separable layer's pointwise part: a 1x1 convolution to `filters`, then the layer's pooling.
memory add_pointwise(Chain& c, const memory& src, const akida::Layer& layer) {
  akida::Layer pointwise = layer;
  pointwise.parameters["kernel_width"] = pointwise.parameters["kernel_height"] = 1;
  pointwise.parameters["stride_x"] = pointwise.parameters["stride_y"] = 1;
  pointwise.parameters["padding"] = 0;
  return add_conv(c, src, pointwise, false);
}

memory add_dense(Chain& c, const memory& src, const akida::Layer& layer) {
  const auto& s = src.get_desc().dims();
  const memory::dim units = layer.param("units", 1);
  memory::desc src_md(s, dt::u8, tag::any), dst_md({1, units}, dt::u8, tag::any);
  memory::dims wdims = s;
  wdims[0] = units;
  memory::desc w_md(wdims, dt::s8, tag::any);
  dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, src_md, w_md, dst_md);
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {1.0f / 256});
  dnnl::inner_product_forward::primitive_desc pd(d, attr, c.engine);
  memory in = src;
  if (pd.src_desc() != src.get_desc()) {
    in = memory(pd.src_desc(), c.engine);
    c.steps.push_back({dnnl::reorder(src, in), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, in}}});
  }
  memory w = random_memory(c.engine, pd.weights_desc(), -8, 8);
  c.keep.push_back(w);
  memory out(pd.dst_desc(), c.engine);
  c.steps.push_back({dnnl::inner_product_forward(pd),
                     {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out}}});
  // The next layer sees (1, units, 1, 1).
  memory flat({{1, units, 1, 1}, dt::u8, tag::nchw}, c.engine, out.get_data_handle());
  return flat;
}

// The chain for `model`, or an empty optional naming the layer it cannot represent.
bool build_chain(const akida::Model& model, Chain& c, std::string& unsupported) {
  const akida::Shape in = akida::model_input_shape(model);
  c.input = random_memory(c.engine, {{1, in.c, in.x, in.y}, dt::u8, tag::nhwc}, 0, 255);
  memory current = c.input;
  for (const akida::Layer& layer : model.layers) {
    switch (layer.kind) {
      case akida::LayerKind::InputData:
      case akida::LayerKind::Dequantizer: break;
      case akida::LayerKind::InputConv2D:
      case akida::LayerKind::Conv2D:
      case akida::LayerKind::InputConvolutional:
      case akida::LayerKind::Convolutional: current = add_conv(c, current, layer, false); break;
      case akida::LayerKind::DepthwiseConv2D: current = add_conv(c, current, layer, true); break;
      case akida::LayerKind::SeparableConvolutional:
        // The depthwise part, then the pointwise part as a 1x1 convolution with the pooling.
        current = add_conv(c, current, layer, true, /*with_pooling=*/false);
        current = add_pointwise(c, current, layer);
        break;
      case akida::LayerKind::Dense1D:
      case akida::LayerKind::FullyConnected: current = add_dense(c, current, layer); break;
      default:
        unsupported = layer.name + " (" + std::string(akida::name_of(layer.kind)) + ")";
        return false;
    }
  }
  return true;
}

// Milliseconds per sample of the chain run `samples` times, one sample at a time.
double OneDnnChain::ms_per_sample(int64_t samples) {
  dnnl::stream stream(chain_->engine);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < samples; ++n)
    for (auto& step : chain_->steps) step.primitive.execute(stream, step.args);
  stream.wait();
  const std::chrono::duration<double, std::milli> t = std::chrono::steady_clock::now() - start;
  return t.count() / static_cast<double>(samples);
}

std::optional<OneDnnChain> OneDnnChain::build(const akida::Model& model, std::string& unsupported) {
  OneDnnChain chain;
  chain.chain_ = std::make_shared<Chain>();
  if (!build_chain(model, *chain.chain_, unsupported)) return std::nullopt;
  return chain;
}

}  // namespace bench
