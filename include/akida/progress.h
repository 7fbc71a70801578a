// A progress bar for long work (many samples, calibration), drawn on stderr only when stderr is a
// terminal: pipes, files and CI logs get nothing, so scripted output stays clean.
//
// Thread-safe: advance() may be called from several worker threads; one of them redraws, at most
// ten times a second. The destructor (or finish()) ends the line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace akida {

class Progress {
 public:
  // `label` is printed before the bar ("verify", "calibration"); `total` units of work (> 0, or
  // nothing is drawn). `enabled` defaults to "stderr is a terminal".
  Progress(std::string label, int64_t total);
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t units = 1);
  // Draws the final state and ends the line (idempotent).
  void finish();
  bool enabled() const { return enabled_; }

  // True when stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  void draw(int64_t done);

  std::string label_;
  int64_t total_;
  bool enabled_;
  std::atomic<int64_t> done_{0};
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool finished_ = false;
};

}  // namespace akida
