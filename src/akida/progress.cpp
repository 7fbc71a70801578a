#include "akida/progress.h"

#include <unistd.h>

#include <cstdio>

namespace akida {

namespace {
constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
}  // namespace

bool Progress::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total)
    : Progress(std::move(label), total, stderr_is_terminal()) {}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && total > 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - kRedrawInterval) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t units) {
  const int64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (!enabled_) return;
  // try_lock: a worker never waits for another's redraw.
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval && done < total_) return;
  last_draw_ = now;
  draw(done);
}

void Progress::finish() {
  if (!enabled_) return;
  std::lock_guard lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  draw(done_.load(std::memory_order_relaxed));
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::draw(int64_t done) {
  if (done > total_) done = total_;
  const int filled = static_cast<int>(done * kBarWidth / total_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kBarWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.1fs", label_.c_str(), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), seconds);
  std::fflush(stderr);
}

}  // namespace akida
