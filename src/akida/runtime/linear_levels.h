// The level count of an Akida 1.0 neuron as one clamp, one multiplication and one shift, found
// per neuron and proven exact before use.
//
// A neuron's output is the number of its level boundaries a potential reaches:
// level(x) = #{k : x >= r_k} for x = potential − threshold and r_1 <= ... <= r_n the boundaries
// relative to the threshold (n = 2^act_bits − 1; v1_activation.h). With the act_step rule they
// follow a line of slope 1/q, which a multiplication reproduces:
//   level(x) = (clamp(x + offset, 0, high) · mult + add) >> shift
// (every intermediate value within 0 .. 2^31 − 1). The blocked kernels' LevelsLinear epilogue
// evaluates this for 16 neurons in 5 instructions, where the act_step rule in float takes 11. The fit is checked at every point where either side can change, so it is exact for
// every x; neurons whose boundaries no such line meets (steps over about a thousand, where the
// multiplier gets too coarse, or irregular boundaries) get no fit.
#pragma once

#include <cstdint>
#include <optional>

namespace akida::runtime {

struct LinearLevels {
  int64_t offset = 0;  // added to potential − threshold
  int32_t high = 0, mult = 0, add = 0, shift = 0;
};

// The fit of the `count` (>= 1) relative boundaries r_1 .. r_n (non-decreasing), or nothing.
// `step`: the boundaries' spacing q (the act_step rule's), from which the multiplier is sought.
std::optional<LinearLevels> fit_linear_levels(const int64_t* relative, int32_t count, double step);

// The level the fit gives for x = potential − threshold (its definition, for checks).
int32_t linear_level(const LinearLevels& fit, int64_t x);

}  // namespace akida::runtime
