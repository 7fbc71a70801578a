// Times the quantizer on float ONNX models: reading + sanitizing, calibration per sample (the
// float evaluator over the samples, one thread and all cores), and quantize_calibrated (the
// integer arithmetic and the ONNX writing, a fixed cost per model). Not a test: bench/run.sh
// runs it next to its peer, onnxruntime running the same float models (what QuantizeML's
// calibration runs: onnxruntime forward passes plus min / max reductions).
//
// Usage: bench_quantize MODEL.onnx [MODEL.onnx ...]   (environment BENCH_SAMPLES, default 256)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <random>
#include <thread>

#include "cnn2snn/quantizer.h"

namespace {

// Milliseconds of `step` (best of three).
double best_ms(const std::function<void()>& step) {
  double best = 1e300;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    step();
    const std::chrono::duration<double, std::milli> t = std::chrono::steady_clock::now() - start;
    best = std::min(best, t.count());
  }
  return best;
}

cnn2snn::FloatArray images(const std::vector<int64_t>& dims, int64_t count) {
  cnn2snn::FloatArray a;
  a.shape = {count};
  a.shape.insert(a.shape.end(), dims.begin(), dims.end());
  int64_t size = count;
  for (int64_t d : dims) size *= d;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  for (int64_t i = 0; i < size; ++i) a.values.push_back(pixel(rng));
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_quantize MODEL.onnx [MODEL.onnx ...]\n";
    return 2;
  }
  const int64_t samples = std::getenv("BENCH_SAMPLES") ? std::atoll(std::getenv("BENCH_SAMPLES")) : 256;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::cout << std::left << std::setw(28) << "model" << std::right << std::setw(10) << "load ms"
            << std::setw(22) << "calib ms/sample (1t)" << std::setw(22)
            << ("calib ms/sample (" + std::to_string(std::min(cores, 8u)) + "t)") << std::setw(16)
            << "quantize ms" << std::setw(14) << "total s" << "\n";
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string path = argv[i];
      std::optional<cnn2snn::FloatModel> model;
      const double load = best_ms([&] { model = cnn2snn::FloatModel::load(path); });
      cnn2snn::QuantizationParams params;
      cnn2snn::CalibrationOptions options;
      options.samples = images(model->input_dims(), samples);
      options.progress = false;
      cnn2snn::CalibrationRanges ranges;
      options.threads = 1;
      const double one = best_ms([&] { ranges = model->calibrate(params, options); });
      options.threads = 0;
      const double all = best_ms([&] { ranges = model->calibrate(params, options); });
      std::string bytes;
      const double write = best_ms([&] { bytes = model->quantize_calibrated(params, ranges); });
      const auto n = static_cast<double>(samples);
      const std::string name = path.substr(path.find_last_of('/') + 1);
      std::cout << std::left << std::setw(28) << name << std::right << std::fixed
                << std::setprecision(2) << std::setw(10) << load << std::setprecision(4)
                << std::setw(22) << one / n << std::setw(22) << all / n << std::setprecision(2)
                << std::setw(16) << write << std::setprecision(3) << std::setw(14)
                << (load + all + write) / 1000.0 << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_quantize: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
