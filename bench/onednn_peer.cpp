// The oneDNN peer on its own: for each .fbz, the same layer stack as int8 oneDNN primitives
// (onednn_chain.cpp), timed one sample at a time (best of three runs). bench_runtime prints the
// same figures next to the runtime's; this prints them alone.
//
// Usage: onednn_peer MODEL.fbz [MODEL.fbz ...]   (environment BENCH_SAMPLES, default 64)
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>

#include "akida/fbz.h"
#include "onednn_chain.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: onednn_peer MODEL.fbz [MODEL.fbz ...]\n";
    return 2;
  }
  const int64_t samples = std::getenv("BENCH_SAMPLES") ? std::atoll(std::getenv("BENCH_SAMPLES")) : 64;
  std::cout << std::left << std::setw(36) << "model" << std::right << std::setw(16) << "oneDNN ms"
            << "\n";
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    name = name.substr(name.find_last_of('/') + 1);
    try {
      std::string unsupported;
      auto chain = bench::OneDnnChain::build(akida::read_fbz(argv[i]), unsupported);
      if (!chain) {
        std::cout << std::left << std::setw(36) << name << std::right << std::setw(16) << "n/a"
                  << "  (" << unsupported << " has no oneDNN equivalent here)\n";
        continue;
      }
      double best = 1e300;
      for (int run = 0; run < 3; ++run) best = std::min(best, chain->ms_per_sample(samples));
      std::cout << std::left << std::setw(36) << name << std::right << std::fixed
                << std::setprecision(3) << std::setw(16) << best << "\n";
    } catch (const std::exception& e) {
      std::cout << std::left << std::setw(36) << name << "  error: " << e.what() << "\n";
    }
  }
  return 0;
}
