// Times the Akida runtime on .fbz models: the reference kernels and the optimized ones, on the
// same random inputs (outputs compared, so a fast wrong kernel cannot go unnoticed), one sample
// at a time as an edge device runs them. Not a test: bench/run.sh runs it next to the peers.
//
// Usage: bench_runtime MODEL.fbz [MODEL.fbz ...]   (environment BENCH_SAMPLES, default 64)
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>

#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"

namespace {

akida::Batch random_batch(const akida::Engine& engine, int64_t n) {
  akida::Batch batch{n, engine.input_shape(), {}};
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> value(engine.input_min(), engine.input_max());
  for (int64_t i = 0; i < n * batch.shape.size(); ++i) batch.values.push_back(value(rng));
  return batch;
}

// Milliseconds per sample of forward() over the batch (best of three runs).
double ms_per_sample(akida::Engine& engine, const akida::Batch& batch, akida::Batch& out) {
  double best = 1e300;
  for (int run = 0; run < 3; ++run) {
    engine.reset();
    const auto start = std::chrono::steady_clock::now();
    out = engine.forward(batch);
    const std::chrono::duration<double, std::milli> t = std::chrono::steady_clock::now() - start;
    best = std::min(best, t.count() / static_cast<double>(batch.n));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_runtime MODEL.fbz [MODEL.fbz ...]\n";
    return 2;
  }
  const int64_t samples = std::getenv("BENCH_SAMPLES") ? std::atoll(std::getenv("BENCH_SAMPLES")) : 64;
  std::cout << std::left << std::setw(36) << "model" << std::right << std::setw(16)
            << "reference ms" << std::setw(16) << "optimized ms" << std::setw(10) << "speedup"
            << "\n";
  try {
    for (int i = 1; i < argc; ++i) {
      const akida::Model model = akida::read_fbz(argv[i]);
      akida::Engine reference(model, akida::Kernels::Reference);
      akida::Engine optimized(model, akida::Kernels::Optimized);
      const akida::Batch batch = random_batch(reference, samples);
      akida::Batch want, got;
      const double ref = ms_per_sample(reference, batch, want);
      const double opt = ms_per_sample(optimized, batch, got);
      if (want.values != got.values) {
        std::cerr << argv[i] << ": the optimized kernels differ from the reference\n";
        return 1;
      }
      std::string name = argv[i];
      name = name.substr(name.find_last_of('/') + 1);
      std::cout << std::left << std::setw(36) << name << std::right << std::fixed
                << std::setprecision(3) << std::setw(16) << ref << std::setw(16) << opt
                << std::setw(9) << std::setprecision(1) << ref / opt << "x\n";
    }
  } catch (const akida::Error& e) {
    std::cerr << "bench_runtime: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
