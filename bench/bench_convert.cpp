// Times the conversion of a quantized model as `cnn2snn convert` does it, in process: reading
// the .h5 / .onnx file, converting, writing the .fbz (best of BENCH_RUNS runs, default 7; other
// jobs on the machine only ever add time). bench/run.sh runs it on the DS-CNN example.
//
// Usage: bench_convert MODEL.h5|MODEL.onnx [...]
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "cnn2snn/pipeline.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_convert MODEL.h5|MODEL.onnx [...]\n";
    return 2;
  }
  const int runs = std::getenv("BENCH_RUNS") ? std::atoi(std::getenv("BENCH_RUNS")) : 7;
  const auto out = std::filesystem::temp_directory_path() /
                   ("bench_convert_" + std::to_string(::getpid()) + ".fbz");
  using Clock = std::chrono::steady_clock;
  std::cout << "== conversion: ms to read, convert and write (best of " << runs << " runs)\n";
  try {
    for (int i = 1; i < argc; ++i) {
      double read = 1e300, total = 1e300;
      for (int run = 0; run < runs; ++run) {
        const auto start = Clock::now();
        const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(argv[i]);
        const auto loaded = Clock::now();
        akida::write_fbz(cnn2snn::convert(graph), out.string());
        const auto end = Clock::now();
        read = std::min(read, std::chrono::duration<double, std::milli>(loaded - start).count());
        total = std::min(total, std::chrono::duration<double, std::milli>(end - start).count());
      }
      const std::string name = argv[i];
      std::cout << std::left << std::setw(34) << name.substr(name.find_last_of('/') + 1)
                << std::right << std::fixed << std::setprecision(2) << std::setw(10) << total
                << " ms (reading the file " << read << " ms)\n";
    }
  } catch (const akida::Error& e) {
    std::cerr << "bench_convert: error: " << e.what() << "\n";
    std::filesystem::remove(out);
    return 1;
  }
  std::filesystem::remove(out);
  return 0;
}
