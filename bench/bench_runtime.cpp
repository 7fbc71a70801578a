// The runtime benchmark (bench/run.sh runs it next to the peers; never a test):
//  1. milliseconds per sample, one thread, one sample at a time as an edge device runs them:
//     the reference kernels, the optimized ones (outputs compared, so a fast wrong kernel cannot
//     go unnoticed), the oneDNN peer (onednn_chain.cpp, where built) timed in turns with ours
//     so that both see the same machine load, and the ratio ours / peer; --peer adds a figure
//     measured elsewhere (onnxruntime) with its own ratio;
//  2. throughput of forward() on a batch of 64 with 1 and 2 threads (Engine::set_threads);
//  3. start-up: reading the .fbz and preparing the engine.
// Times are the best of several runs: other jobs on the machine only ever add time.
//
// Usage: bench_runtime [--peer MODEL.fbz=NAME:MS ...] MODEL.fbz [MODEL.fbz ...]
//        (environment BENCH_SAMPLES, default 64; BENCH_RUNS, default 7)
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#ifdef AKIDA_BENCH_ONEDNN
#include "onednn_chain.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int64_t env_or(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

akida::Batch random_batch(const akida::Engine& engine, int64_t n) {
  akida::Batch batch{n, engine.input_shape(), {}};
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> value(engine.input_min(), engine.input_max());
  for (int64_t i = 0; i < n * batch.shape.size(); ++i) batch.values.push_back(value(rng));
  return batch;
}

// Milliseconds per sample of one forward() over the batch, from empty FIFOs.
double ms_per_sample(akida::Engine& engine, const akida::Batch& batch, akida::Batch& out) {
  engine.reset();
  const auto start = Clock::now();
  out = engine.forward(batch);
  return ms_since(start) / static_cast<double>(batch.n);
}

std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

std::string fixed(double v, int precision) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << v;
  return out.str();
}

// A figure measured by another program: "MODEL.fbz=NAME:MS".
struct PeerFigure {
  std::string name;
  double ms = 0;
};

std::map<std::string, PeerFigure> parse_peers(std::vector<std::string>& args) {
  std::map<std::string, PeerFigure> peers;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--peer" || i + 1 == args.size()) {
      rest.push_back(args[i]);
      continue;
    }
    const std::string spec = args[++i];
    const size_t eq = spec.find('='), colon = spec.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) continue;
    peers[spec.substr(0, eq)] = {spec.substr(eq + 1, colon - eq - 1), std::atof(spec.c_str() + colon + 1)};
  }
  args = rest;
  return peers;
}

struct Row {
  std::string model;
  double reference = 0, optimized = 0;
  std::optional<double> onednn;
  std::string onednn_note;
  std::optional<PeerFigure> other;
};

// Section 1 for one model: reference once (it is slow), then ours and oneDNN in turns.
Row latency(const std::string& path, const akida::Model& model, int64_t samples, int runs,
            const std::map<std::string, PeerFigure>& peers) {
  Row row;
  row.model = file_name(path);
  akida::Engine reference(model, akida::Kernels::Reference);
  akida::Engine optimized(model, akida::Kernels::Optimized);
  const akida::Batch batch = random_batch(reference, samples);
  const akida::Batch few{std::min<int64_t>(samples, 8), batch.shape,
                         {batch.values.begin(),
                          batch.values.begin() + std::min<int64_t>(samples, 8) * batch.shape.size()}};
  akida::Batch want, got;
  row.reference = ms_per_sample(reference, few, want);
  ms_per_sample(optimized, few, got);
  if (want.values != got.values)
    throw akida::Error(path + ": the optimized kernels differ from the reference");
#ifdef AKIDA_BENCH_ONEDNN
  std::string unsupported;
  std::optional<bench::OneDnnChain> chain = bench::OneDnnChain::build(model, unsupported);
  if (!chain) row.onednn_note = unsupported + " has no oneDNN equivalent";
#else
  row.onednn_note = "oneDNN not built";
#endif
  row.optimized = 1e300;
  for (int run = 0; run < runs; ++run) {
    row.optimized = std::min(row.optimized, ms_per_sample(optimized, batch, got));
#ifdef AKIDA_BENCH_ONEDNN
    if (chain) row.onednn = std::min(row.onednn.value_or(1e300), chain->ms_per_sample(samples));
#endif
  }
  if (const auto peer = peers.find(row.model); peer != peers.end()) row.other = peer->second;
  return row;
}

void print_latency(const std::vector<Row>& rows, int64_t samples, int runs) {
  std::cout << "== one thread, one sample at a time: ms per sample (best of " << runs << " runs of "
            << samples << " samples; reference: 8 samples)\n"
            << std::left << std::setw(34) << "model" << std::right << std::setw(11) << "reference"
            << std::setw(11) << "optimized" << std::setw(10) << "oneDNN" << std::setw(13)
            << "ours/oneDNN" << "   other peer\n";
  for (const Row& r : rows) {
    std::cout << std::left << std::setw(34) << r.model << std::right << std::setw(11)
              << fixed(r.reference, 3) << std::setw(11) << fixed(r.optimized, 3);
    if (r.onednn)
      std::cout << std::setw(10) << fixed(*r.onednn, 3) << std::setw(12)
                << fixed(r.optimized / *r.onednn, 2) << "x";
    else
      std::cout << std::setw(10) << "n/a" << std::setw(13) << "-";
    if (r.other)
      std::cout << "   " << r.other->name << " " << fixed(r.other->ms, 3) << " ms, ours/"
                << r.other->name << " " << fixed(r.optimized / r.other->ms, 2) << "x";
    if (!r.onednn && !r.onednn_note.empty()) std::cout << "   (" << r.onednn_note << ")";
    std::cout << "\n";
  }
}

// Section 2: samples per second of forward() on a batch of 64, per thread count.
void print_throughput(const std::vector<std::pair<std::string, akida::Model>>& models, int runs) {
  std::cout << "\n== throughput: forward() on a batch of 64, samples per second (best of " << runs
            << " runs)\n"
            << std::left << std::setw(34) << "model" << std::right << std::setw(12) << "1 thread"
            << std::setw(12) << "2 threads" << std::setw(10) << "speedup" << "\n";
  for (const auto& [path, model] : models) {
    akida::Engine engine(model);
    const akida::Batch batch = random_batch(engine, 64);
    akida::Batch single, out;
    double best[3] = {1e300, 1e300, 1e300};
    for (int run = 0; run < runs; ++run)
      for (int threads : {1, 2}) {
        engine.set_threads(threads);
        best[threads] = std::min(best[threads], ms_per_sample(engine, batch, out));
        if (threads == 1) single = out;
        else if (out.values != single.values)
          throw akida::Error(path + ": 2 threads gave other outputs than 1");
      }
    std::cout << std::left << std::setw(34) << file_name(path) << std::right << std::setw(12)
              << fixed(1000 / best[1], 0) << std::setw(12) << fixed(1000 / best[2], 0)
              << std::setw(9) << fixed(best[1] / best[2], 2) << "x\n";
  }
}

// Section 3: reading the file and preparing the engine (optimized kernels), best of runs.
void print_startup(const std::vector<std::string>& paths, int runs) {
  std::cout << "\n== start-up: ms to read the .fbz and to prepare the engine (best of " << runs
            << " runs)\n"
            << std::left << std::setw(34) << "model" << std::right << std::setw(10) << "read"
            << std::setw(10) << "prepare" << std::setw(10) << "total" << "\n";
  for (const std::string& path : paths) {
    double read = 1e300, prepare = 1e300;
    for (int run = 0; run < runs; ++run) {
      const auto start = Clock::now();
      const akida::Model model = akida::read_fbz(path);
      const double read_ms = ms_since(start);
      const auto prepared = Clock::now();
      akida::Engine engine(model);
      prepare = std::min(prepare, ms_since(prepared));
      read = std::min(read, read_ms);
    }
    std::cout << std::left << std::setw(34) << file_name(path) << std::right << std::setw(10)
              << fixed(read, 2) << std::setw(10) << fixed(prepare, 2) << std::setw(10)
              << fixed(read + prepare, 2) << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto peers = parse_peers(args);
  if (args.empty()) {
    std::cerr << "usage: bench_runtime [--peer MODEL.fbz=NAME:MS ...] MODEL.fbz [MODEL.fbz ...]\n";
    return 2;
  }
  const int64_t samples = env_or("BENCH_SAMPLES", 64);
  const int runs = static_cast<int>(env_or("BENCH_RUNS", 7));
  try {
    std::vector<std::pair<std::string, akida::Model>> models;
    std::vector<Row> rows;
    for (const std::string& path : args) {
      models.emplace_back(path, akida::read_fbz(path));
      rows.push_back(latency(path, models.back().second, samples, runs, peers));
    }
    print_latency(rows, samples, runs);
    print_throughput(models, runs);
    print_startup(args, runs);
  } catch (const akida::Error& e) {
    std::cerr << "bench_runtime: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
