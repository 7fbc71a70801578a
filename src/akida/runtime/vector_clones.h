// AKIDA_VECTOR_CLONES before a function definition compiles it three times, for x86-64-v4
// (AVX-512), for AVX2 and for the x86-64 baseline, and the loader picks the best one the CPU
// runs (GCC target_clones). Only the speed differs: integer arithmetic gives the same results
// either way.
#pragma once

//
// AKIDA_AVX2_CLONES: AVX2 and baseline only, for loops measured slower in their AVX-512 build
// (the v1 level counting: bench/run.sh, Edge Impulse models).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AKIDA_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#define AKIDA_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AKIDA_VECTOR_CLONES
#define AKIDA_AVX2_CLONES
#endif
