#include "cnn2snn/quantize/float_evaluator.h"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

#include "akida/errors.h"
#include "akida/runtime/vector_clones.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn::quantize {
namespace {

size_t sz(int64_t v) { return static_cast<size_t>(v); }

// Output positions o in [lo, hi) whose input position o * stride + offset lies in [0, size).
std::pair<int64_t, int64_t> valid_outputs(int64_t size, int64_t outputs, int64_t stride,
                                          int64_t offset) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = size - 1 - offset;
  const int64_t hi = last < 0 ? 0 : std::min(outputs, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

// Per output pixel, the sum over (c, kx, ky) for every filter at once: acc[f] += w[c][a][b][f] * x.
AKIDA_VECTOR_CLONES
void conv(const FloatNode& n, const std::vector<float>& packed, const std::vector<int64_t>& in,
          const std::vector<float>& x, std::vector<float>& y) {
  const int64_t filters = n.output_shape[0], ox = n.output_shape[1], oy = n.output_shape[2];
  const int64_t kx = n.kernel[0], ky = n.kernel[1];
  std::vector<float> acc(sz(filters));
  y.resize(sz(filters * ox * oy));
  for (int64_t i = 0; i < ox; ++i)
    for (int64_t j = 0; j < oy; ++j) {
      if (n.bias.empty()) std::fill(acc.begin(), acc.end(), 0.0f);
      else std::copy(n.bias.begin(), n.bias.end(), acc.begin());
      for (int64_t c = 0; c < in[0]; ++c)
        for (int64_t a = 0; a < kx; ++a) {
          const int64_t xi = i * n.strides[0] + a - n.pads[0];
          if (xi < 0 || xi >= in[1]) continue;
          for (int64_t b = 0; b < ky; ++b) {
            const int64_t yi = j * n.strides[1] + b - n.pads[1];
            if (yi < 0 || yi >= in[2]) continue;
            const float v = x[sz((c * in[1] + xi) * in[2] + yi)];
            const float* w = packed.data() + ((c * kx + a) * ky + b) * filters;
            for (int64_t f = 0; f < filters; ++f) acc[sz(f)] += w[f] * v;
          }
        }
      for (int64_t f = 0; f < filters; ++f) y[sz((f * ox + i) * oy + j)] = acc[sz(f)];
    }
}

// Depthwise: one input channel per filter.
void depthwise_conv(const FloatNode& n, const std::vector<int64_t>& in, const std::vector<float>& x,
                    std::vector<float>& y) {
  const int64_t kx = n.kernel[0], ky = n.kernel[1];
  const int64_t ox = n.output_shape[1], oy = n.output_shape[2], plane = in[1] * in[2];
  y.assign(sz(n.output_shape[0] * ox * oy), 0.0f);
  for (int64_t f = 0; f < n.output_shape[0]; ++f) {
    float* out = y.data() + f * ox * oy;
    if (!n.bias.empty()) std::fill(out, out + ox * oy, n.bias[sz(f)]);
    const float* image = x.data() + f * plane;
    for (int64_t a = 0; a < kx; ++a) {
      const auto [x_lo, x_hi] = valid_outputs(in[1], ox, n.strides[0], a - n.pads[0]);
      for (int64_t b = 0; b < ky; ++b) {
        const float w = n.weights[sz((f * kx + a) * ky + b)];
        const auto [y_lo, y_hi] = valid_outputs(in[2], oy, n.strides[1], b - n.pads[1]);
        for (int64_t i = x_lo; i < x_hi; ++i) {
          const float* row = image + (i * n.strides[0] + a - n.pads[0]) * in[2] + b - n.pads[1];
          float* out_row = out + i * oy;
          for (int64_t j = y_lo; j < y_hi; ++j) out_row[j] += w * row[j * n.strides[1]];
        }
      }
    }
  }
}

// acc[f] += w[n][f] * x[n], then the bias.
AKIDA_VECTOR_CLONES
void gemm(const FloatNode& n, const std::vector<float>& packed, const std::vector<float>& x,
          std::vector<float>& y) {
  const int64_t filters = n.weights_shape[0], inputs = n.weights_shape[1];
  y.assign(sz(filters), 0.0f);
  for (int64_t i = 0; i < inputs; ++i) {
    const float v = x[sz(i)];
    const float* w = packed.data() + i * filters;
    for (int64_t f = 0; f < filters; ++f) y[sz(f)] += w[f] * v;
  }
  if (!n.bias.empty())
    for (int64_t f = 0; f < filters; ++f) y[sz(f)] += n.bias[sz(f)];
}

// (rows, cols) -> (cols, rows).
std::vector<float> transpose(const std::vector<float>& m, int64_t rows, int64_t cols) {
  std::vector<float> out(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[sz(c * rows + r)] = m[sz(r * cols + c)];
  return out;
}

void max_pool(const FloatNode& n, const std::vector<int64_t>& in, const std::vector<float>& x,
              std::vector<float>& y) {
  const int64_t ox = n.output_shape[1], oy = n.output_shape[2];
  y.assign(sz(in[0] * ox * oy), -std::numeric_limits<float>::infinity());
  for (int64_t c = 0; c < in[0]; ++c)
    for (int64_t i = 0; i < ox; ++i)
      for (int64_t j = 0; j < oy; ++j) {
        float& out = y[sz((c * ox + i) * oy + j)];
        for (int64_t a = 0; a < n.kernel[0]; ++a) {
          const int64_t xi = i * n.strides[0] + a - n.pads[0];
          if (xi < 0 || xi >= in[1]) continue;
          for (int64_t b = 0; b < n.kernel[1]; ++b) {
            const int64_t yi = j * n.strides[1] + b - n.pads[1];
            if (yi >= 0 && yi < in[2]) out = std::max(out, x[sz((c * in[1] + xi) * in[2] + yi)]);
          }
        }
      }
}

void global_average(const std::vector<int64_t>& in, const std::vector<float>& x,
                    std::vector<float>& y) {
  const int64_t plane = in[1] * in[2];
  y.assign(sz(in[0]), 0.0f);
  for (int64_t c = 0; c < in[0]; ++c) {
    float sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += x[sz(c * plane + i)];
    y[sz(c)] = sum / static_cast<float>(plane);
  }
}

}  // namespace

FloatEvaluator::FloatEvaluator(const FloatGraph& graph) : graph_(graph) {
  Refusals refusals(graph.source);
  for (const auto& message : graph.refusals) refusals.add(message);
  refusals.throw_if_any("node", "evaluated");
  if (graph.output_name.empty())
    throw akida::UnsupportedError(graph.source + ": the model output is not computed");
  rescaled_shape_ = graph.rescaled_shape();
  std::map<std::string, int> producer{{graph.rescale.output, -1}};
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::vector<int> in;
    for (const auto& name : graph.nodes[i].inputs) in.push_back(producer.at(name));
    inputs_.push_back(in);
    producer[graph.nodes[i].output] = static_cast<int>(i);
    const FloatNode& n = graph.nodes[i];
    const bool packs = (n.op == FloatOp::Conv && n.group == 1) || n.op == FloatOp::Gemm;
    // (F, rest) -> (rest, F): [c][kx][ky][f] for a Conv, [n][f] for a Gemm.
    packed_.push_back(packs ? transpose(n.weights, n.weights_shape[0],
                                        static_cast<int64_t>(n.weights.size()) / n.weights_shape[0])
                            : std::vector<float>{});
  }
}

const std::vector<float>& FloatEvaluator::input_of(const Workspace& ws, size_t node, size_t i) const {
  const int p = inputs_[node][i];
  return p < 0 ? ws.rescaled : ws.outputs[static_cast<size_t>(p)];
}

const std::vector<float>& FloatEvaluator::tensor(const Workspace& ws, const std::string& name) const {
  if (name == graph_.rescale.output) return ws.rescaled;
  for (size_t i = 0; i < graph_.nodes.size(); ++i)
    if (graph_.nodes[i].output == name) return ws.outputs[i];
  throw std::out_of_range("no tensor '" + name + "'");
}

void FloatEvaluator::run(const float* sample, Workspace& ws) const {
  // Rescale: output axis i reads input axis perm[i] (of (N, d0, d1, d2)), then x * s[c] + o[c].
  const auto& d = graph_.input_dims;
  const auto& perm = graph_.rescale.perm;
  const std::vector<int64_t> strides = {d[1] * d[2], d[2], 1};
  const int64_t c_count = rescaled_shape_[0], x_count = rescaled_shape_[1], y_count = rescaled_shape_[2];
  const auto& scale = graph_.rescale.scale;
  const auto& offset = graph_.rescale.offset;
  ws.rescaled.resize(sz(c_count * x_count * y_count));
  for (int64_t c = 0; c < c_count; ++c) {
    const float s = scale[scale.size() == 1 ? 0 : sz(c)], o = offset[offset.size() == 1 ? 0 : sz(c)];
    for (int64_t i = 0; i < x_count; ++i)
      for (int64_t j = 0; j < y_count; ++j) {
        const int64_t index[3] = {c, i, j};
        int64_t source = 0;
        for (int axis = 0; axis < 3; ++axis)
          source += index[axis] * strides[sz(perm[sz(axis + 1)] - 1)];
        ws.rescaled[sz((c * x_count + i) * y_count + j)] = sample[source] * s + o;
      }
  }
  ws.outputs.resize(graph_.nodes.size());
  for (size_t k = 0; k < graph_.nodes.size(); ++k) {
    const FloatNode& n = graph_.nodes[k];
    const std::vector<float>& x = input_of(ws, k, 0);
    const std::vector<int64_t>& in_shape =
        inputs_[k][0] < 0 ? rescaled_shape_ : graph_.nodes[sz(inputs_[k][0])].output_shape;
    std::vector<float>& y = ws.outputs[k];
    switch (n.op) {
      case FloatOp::Conv:
        n.group > 1 ? depthwise_conv(n, in_shape, x, y) : conv(n, packed_[k], in_shape, x, y);
        break;
      case FloatOp::Gemm: gemm(n, packed_[k], x, y); break;
      case FloatOp::MaxPool: max_pool(n, in_shape, x, y); break;
      case FloatOp::GlobalAvgPool: global_average(in_shape, x, y); break;
      case FloatOp::Flatten: y = x; break;
      case FloatOp::Relu:
        y.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) y[i] = std::max(x[i], 0.0f);
        break;
      case FloatOp::Clip:
        y.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) y[i] = std::min(std::max(x[i], n.clip_min), n.clip_max);
        break;
      case FloatOp::Add: {
        const std::vector<float>& b = input_of(ws, k, 1);
        y.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] + b[i];
        break;
      }
      case FloatOp::Concat: {
        const std::vector<float>& b = input_of(ws, k, 1);
        y = x;
        y.insert(y.end(), b.begin(), b.end());
        break;
      }
    }
  }
}

}  // namespace cnn2snn::quantize
