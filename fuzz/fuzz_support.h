// Shared by the libFuzzer targets of fuzz/ (docs/robustness.md): what every target does with a
// model it obtained, and how a target tells an accepted refusal from a bug.
//
// A reader may refuse its input only with an akida::Error; any other exception escapes to
// libFuzzer (an uncaught exception aborts: a crash report), as do sanitizer reports and the
// invariants checked here (fail() aborts with a message).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "akida/errors.h"
#include "akida/model.h"
#include "cnn2snn/quantized_graph.h"

namespace fuzz {

// Runs `step`; an akida::Error (a clean refusal) is swallowed, anything else propagates.
template <typename Step>
bool refused(Step step) {
  try {
    step();
    return false;
  } catch (const akida::Error&) {
    return true;
  }
}

// Aborts with `what` on stderr: a broken invariant is a finding like a crash.
[[noreturn]] void fail(const std::string& what);

// What the tools do with a model read or converted: summary, JSON dump, the .fbz bytes the
// writer makes read back to the same layers, and, when the model's work is small (see
// small_enough), one sample through the optimized and the reference kernels, which must give
// the same integers and floats.
void exercise_model(const akida::Model& model, uint64_t seed);

// Converts a graph read by a front end as the tools do (check, convert), then exercise_model();
// for Akida 2.0 graphs small enough to run, also cnn2snn::verify(): the converted model must
// equal the reference evaluator on one sample (the project's claim for 2.0 conversions).
void exercise_graph(const cnn2snn::QuantizedGraph& graph, bool v1, uint64_t seed);

// A seed for the model inputs made from the fuzzer's bytes.
uint64_t seed_of(std::span<const uint8_t> bytes);

}  // namespace fuzz
