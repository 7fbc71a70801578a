// Helpers shared by the shape inference and the kernels' prepare steps: reading a layer's
// parameters and variables with range checks, and the "layer 'X' (Kind)" context of messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "akida/model.h"

namespace akida::runtime {

// "layer 'conv_1' (Conv2D)": how every message about a layer starts.
std::string layer_context(const Layer& layer);
// "[3, 3, 8, 16]".
std::string dims_string(const std::vector<uint32_t>& dims);

// The parameter's value (absent keys read as 0, as .fbz files omit zero values), checked to lie in
// [lo, hi]. Throws ShapeError "layer 'X' (Kind): parameter 'key' is V, expected lo..hi".
int32_t param_in_range(const Layer& layer, const std::string& key, int32_t lo, int32_t hi);
// As param_in_range, but an absent key is an error ("parameter 'key' is missing"): for fields
// such as bit widths, for which 0 is meaningless.
int32_t required_param(const Layer& layer, const std::string& key, int32_t lo, int32_t hi);

// The variable `name` checked against `expected` dims, an integer dtype and a data size that
// matches; nullptr when absent. Throws ShapeError "layer 'X' (Kind): variable 'weights' has shape
// [..], expected [..]" (or naming the dtype / byte count).
const Variable* find_int_variable(const Layer& layer, const std::string& name,
                                  const std::vector<uint32_t>& expected);
// As find_int_variable, but absence is a ShapeError.
const Variable& require_int_variable(const Layer& layer, const std::string& name,
                                     const std::vector<uint32_t>& expected);

// A per-channel variable of `length` values, each checked to lie in [lo, hi]; `fallback` repeated
// when the variable is absent. Throws ShapeError naming the layer, variable, index and value.
std::vector<int64_t> per_channel_values(const Layer& layer, const std::string& name, size_t length,
                                        int64_t fallback, int64_t lo, int64_t hi);

// Conv weights in the order the loops read them: w[((i * ky + j) * C + c) * F + f] multiplies the
// input at (x0 + i, y0 + j, c) for output channel f. The file stores (kx, ky, C, F); `rotate`
// turns the kernel by 180° (a true convolution) once.
std::vector<int32_t> correlation_weights(const Variable& weights, int64_t kx, int64_t ky,
                                         int64_t channels, int64_t filters, bool rotate);
// Σ|w| per output channel (the last axis of `w`).
std::vector<int64_t> filter_l1(const std::vector<int32_t>& w, int64_t filters);

// Widens [lo, hi] to the range of n values (one vectorized pass).
void widen_range(const int32_t* values, int64_t n, int32_t& lo, int32_t& hi);
void widen_range(const int16_t* values, int64_t n, int32_t& lo, int32_t& hi);

}  // namespace akida::runtime
