// The object behind akida.Model: an akida::Model, the engine that runs it (built on first use,
// so that loading, saving and summaries work for models the runtime cannot run yet) and the
// statistics of the last forward().
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "akida/engine.h"
#include "akida/model.h"

namespace cnn2snn_python {

// What the last forward() saw at one layer's output.
struct LayerStatistics {
  std::string name;
  int64_t outputs = 0;  // output values over the whole batch
  int64_t events = 0;   // of which nonzero (the "events" Akida hardware would emit)
};

class PyModel {
 public:
  // `source` names the model in error messages: its file, or "<bytes>" / "<converted ...>".
  PyModel(akida::Model model, std::string source);

  const akida::Model& model() const { return model_; }
  const std::string& source() const { return source_; }
  // Output dims of every layer; throws (with the source as context) when they cannot be inferred.
  const std::vector<akida::Shape>& shapes();

  // The engine, built on the first call (its errors name the source). Callers hold mutex().
  akida::Engine& engine();
  std::mutex& mutex() { return mutex_; }
  bool has_engine() const { return engine_ != nullptr; }

  std::vector<LayerStatistics> statistics;

 private:
  akida::Model model_;
  std::string source_;
  std::optional<std::vector<akida::Shape>> shapes_;
  std::unique_ptr<akida::Engine> engine_;
  // The engine keeps FIFO state and is not reentrant; calls run with the GIL released.
  std::mutex mutex_;
};

}  // namespace cnn2snn_python
