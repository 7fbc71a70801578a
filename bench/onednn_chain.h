// The oneDNN peer of the runtime benchmark (onednn_chain.cpp says what it computes): a model's
// layer stack as int8 oneDNN primitives, timed one sample at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "akida/model.h"

namespace bench {

struct Chain;

class OneDnnChain {
 public:
  // The chain for `model`, or nothing with `unsupported` naming the first layer it cannot
  // represent.
  static std::optional<OneDnnChain> build(const akida::Model& model, std::string& unsupported);
  // Runs the chain on `samples` samples one after the other; milliseconds per sample.
  double ms_per_sample(int64_t samples);

 private:
  std::shared_ptr<Chain> chain_;
};

}  // namespace bench
