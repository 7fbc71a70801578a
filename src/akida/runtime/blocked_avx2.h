// The blocked kernels of blocked_sums.h for CPUs with AVX2 but without AVX-512 VNNI (AMD Zen 1
// to 3, Intel Haswell to Comet Lake): the same tasks, layouts and results, on 8-lane vectors.
// blocked_sums.cpp calls these where dot4_available() is false.
//
// Byte dot products are vpmaddubsw (u8 × s8 pairs summed to int16, saturating) then vpmaddwd by
// ones: exact only while no pair sum leaves int16, which the callers check (bytes_exact()).
// 16-bit pairs are vpmaddwd, exact as vpdpwssd is (both wrap the one overflowing pair the same
// way).
#pragma once

#include <cstdint>
#include <vector>

#include "akida/runtime/blocked_sums.h"

namespace akida::runtime::blocked::avx2 {

// Whether this CPU runs these kernels (AVX2 and FMA) and AKIDA_RUNTIME_ISA allows them.
bool available();

void conv(const ConvTask<uint8_t>& task, int64_t begin, int64_t end);
void conv(const ConvTask<int16_t>& task, int64_t begin, int64_t end);
void depthwise(const DepthwiseTask<uint8_t>& task, int64_t begin, int64_t end);
void depthwise(const DepthwiseTask<int16_t>& task, int64_t begin, int64_t end);
void finish(const Epilogue& epilogue, const int32_t* sums, int64_t pixels, int64_t channels,
            int32_t* out);
void stage_bytes(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                 const int32_t* shifts, int32_t offset, uint8_t* out, int64_t out_row_stride,
                 int32_t& lo, int32_t& hi);
void copy_bytes(const uint8_t* in, int64_t rows, int64_t n, int64_t in_row_stride, uint8_t* out,
                int64_t out_row_stride, int32_t& lo, int32_t& hi);
bool stage_clipped(const int16_t* in, int64_t n, int32_t offset, uint8_t* out,
                   std::vector<int32_t>& indices, std::vector<int32_t>& deltas,
                   int64_t max_clipped);

}  // namespace akida::runtime::blocked::avx2
