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

// Whether this CPU runs the AVX-512 VNNI byte and pair dot products (blocked_sums.h).
bool dot4_available();

}  // namespace akida::runtime
