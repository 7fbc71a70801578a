// Engine::set_threads: every layer's integers and predict()'s floats are the same whatever the
// thread count, for models whose samples run in parallel and for temporal models (their
// samples stay in order; their layers split their work), with either kernel choice; and the
// ThreadPool itself runs every task once and passes a task's exception to the caller.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>

#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/thread_pool.h"
#include "test_support.h"

namespace akida {
namespace {

Batch random_batch(const Engine& engine, int64_t n, uint32_t seed) {
  Batch batch{n, engine.input_shape(), {}};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(engine.input_min(), engine.input_max());
  for (int64_t i = 0; i < n * batch.shape.size(); ++i) batch.values.push_back(d(rng));
  return batch;
}

// Two batches in a row (temporal FIFOs carry over), compared with the single-thread run.
void expect_same_for_every_thread_count(const Model& model, Kernels kernels,
                                        const std::string& name) {
  Engine single(model, kernels);
  const Batch first = random_batch(single, 7, 1), second = random_batch(single, 5, 2);
  const std::vector<Batch> want_first = single.forward_all(first);
  const FloatBatch want_second = single.predict(second);
  for (int threads : {2, 3}) {
    SCOPED_TRACE(name + ", " + std::to_string(threads) + " threads");
    Engine engine(model, kernels);
    engine.set_threads(threads);
    EXPECT_EQ(engine.threads(), threads);
    const std::vector<Batch> got_first = engine.forward_all(first);
    ASSERT_EQ(got_first.size(), want_first.size());
    for (size_t l = 0; l < got_first.size(); ++l)
      EXPECT_EQ(got_first[l].values, want_first[l].values) << "layer " << model.layers[l].name;
    EXPECT_EQ(engine.predict(second).values, want_second.values);
    // After a reset, the first batch again.
    engine.reset();
    single.reset();
    EXPECT_EQ(engine.forward(first).values, single.forward(first).values);
  }
}

TEST(EngineThreads, FixtureModelsGiveTheSameResultsOnEveryThreadCount) {
  int models = 0;
  for (const auto& path : test_support::fixtures_with_extension("fbz", ".fbz")) {
    const Model model = read_fbz(path.string());
    expect_same_for_every_thread_count(model, Kernels::Optimized, path.filename().string());
    ++models;
  }
  if (models == 0) GTEST_SKIP() << "no .fbz fixture in " << test_support::fixtures_dir();
}

TEST(EngineThreads, ReferenceKernelsGiveTheSameResultsOnEveryThreadCount) {
  const auto paths = test_support::fixtures_with_extension("fbz", ".fbz");
  if (paths.empty()) GTEST_SKIP() << "no .fbz fixture in " << test_support::fixtures_dir();
  // The smallest fixture keeps the reference kernels quick.
  const auto smallest = *std::min_element(paths.begin(), paths.end(), [](const auto& a, const auto& b) {
    return std::filesystem::file_size(a) < std::filesystem::file_size(b);
  });
  expect_same_for_every_thread_count(read_fbz(smallest.string()), Kernels::Reference,
                                     smallest.filename().string());
}

TEST(EngineThreads, ZeroMeansOnePerCoreAndNegativeIsRefused) {
  const auto paths = test_support::fixtures_with_extension("fbz", ".fbz");
  if (paths.empty()) GTEST_SKIP() << "no .fbz fixture in " << test_support::fixtures_dir();
  Engine engine(read_fbz(paths.front().string()));
  EXPECT_EQ(engine.threads(), 1);
  engine.set_threads(0);
  EXPECT_EQ(engine.threads(), ThreadPool::hardware_threads());
  EXPECT_THROW(engine.set_threads(-1), Error);
}

TEST(ThreadPool, RunsEveryTaskOnceAcrossRepeatedJobs) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3);
  for (int job = 0; job < 50; ++job) {
    std::vector<std::atomic<int>> runs(37);
    pool.run(37, [&](int64_t i) { ++runs[i]; });
    for (const auto& r : runs) ASSERT_EQ(r.load(), 1);
  }
}

TEST(ThreadPool, PassesATaskExceptionToTheCaller) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.run(10,
                        [&](int64_t i) {
                          ++ran;
                          if (i == 4) throw std::runtime_error("task 4");
                        }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 10);  // the other tasks still ran
  pool.run(3, [&](int64_t) { ++ran; });  // and the pool still works
  EXPECT_EQ(ran.load(), 13);
}

}  // namespace
}  // namespace akida
