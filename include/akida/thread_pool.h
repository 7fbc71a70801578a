// A fixed set of worker threads that share the parts of one job with the calling thread: the
// Engine's samples in parallel, or the rows of one layer (akida::Engine::set_threads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace akida {

class ThreadPool {
 public:
  // threads >= 1: the calling thread plus threads − 1 workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls task(i) for every i in [0, count), spread over the threads (the caller's included),
  // and returns when all have finished. The first exception a task throws is rethrown here
  // once every task has ended. Tasks must not call run() on the same pool.
  void run(int64_t count, const std::function<void(int64_t)>& task);

  // The cores this machine offers (at least 1).
  static int hardware_threads();

 private:
  void work();                  // a worker's loop
  void take_tasks();            // runs tasks of the current job until none is left

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;     // incremented for every job
  bool stopping_ = false;
  // The current job.
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t count_ = 0, next_ = 0, finished_ = 0;
  int busy_ = 0;                // workers inside the current job
  std::exception_ptr error_;
};

}  // namespace akida
