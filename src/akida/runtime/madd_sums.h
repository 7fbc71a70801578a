// Convolution sums with 16-bit pair multiply-adds (AVX2 vpmaddwd): two input channels times two
// weights per 32-bit lane, eight output channels per instruction. Exact when every input and
// weight fits int16 and no sum leaves int32 (the caller checks both): vpmaddwd only overflows
// for (-2^15)·(-2^15)·2, which the int16 inputs and the int8-range weights never reach.
#pragma once

#include <cstdint>
#include <vector>

namespace akida::runtime {

// Whether this CPU runs the AVX2 code.
bool madd_available();

// Weights in correlation layout w[((i * ky + j) * C + c) * F + f] (kx kernel rows of K = ky * C
// values) repacked as int16 pairs: for row i, pair m = (k = 2m, 2m + 1), channel f:
// out[((i * M + m) * F + f) * 2 + {0, 1}], M = ceil(K / 2), the missing odd element 0.
// Returns an empty vector when a weight does not fit int16.
std::vector<int16_t> madd_weights(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                                  int64_t filters);

// acc (ox, oy, F) = sums over the padded int16 input (px, py, C) (one readable int16 past its
// end), as conv_sums computes them. Preconditions: madd_available(), F % 8 == 0.
void conv_sums_madd(const int16_t* padded, int64_t py, int64_t channels, const int16_t* w16,
                    int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy,
                    int64_t ox_count, int64_t oy_count, int32_t* acc);

// The same sums with 4-way byte dot products (AVX-512 VNNI vpdpbusd): unsigned 8-bit inputs
// times signed 8-bit weights, four input channels and sixteen output channels per instruction.
// The four products are summed exactly into each int32 lane (no intermediate saturation), so
// the sums are exact under the same int32 bound.
bool dot4_available();

// Weights repacked as int8 quadruples: for row i, group g (k = 4g .. 4g + 3), channel f:
// out[((i * G + g) * F + f) * 4 + k % 4], G = ceil(K / 4), missing elements 0. Empty when a
// weight does not fit int8.
std::vector<int8_t> dot4_weights(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                                 int64_t filters);

// acc (ox, oy, F) as conv_sums_madd computes it, over a padded uint8 input (three readable bytes
// past its end). Preconditions: dot4_available(), F % 16 == 0.
void conv_sums_dot4(const uint8_t* padded, int64_t py, int64_t channels, const int8_t* w8,
                    int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy,
                    int64_t ox_count, int64_t oy_count, int32_t* acc);

}  // namespace akida::runtime
