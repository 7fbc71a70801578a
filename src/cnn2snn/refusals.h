// Collecting every refusal of a front end, to report them all in one error.
//
// Front ends refuse layers (Keras) or nodes (ONNX) they cannot represent with an
// akida::UnsupportedError whose message is "SOURCE: layer|node 'NAME' (Type): why". Users fix
// models faster when they see every problem at once, so the front ends go on past a refusal,
// skip what depends on a refused layer (its problem is reported once, at its cause) and throw
// one error at the end.
#pragma once

#include <string>
#include <vector>

#include "akida/errors.h"

namespace cnn2snn {

class Refusals {
 public:
  explicit Refusals(std::string source) : source_(std::move(source)) {}

  // Records `e`, without its "SOURCE: " prefix.
  void add(const akida::UnsupportedError& e) {
    const std::string message = e.what();
    const std::string prefix = source_ + ": ";
    messages_.push_back(message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message);
  }
  // Records a refusal already stripped of its "SOURCE: " prefix.
  void add(std::string message) { messages_.push_back(std::move(message)); }
  bool empty() const { return messages_.empty(); }
  const std::vector<std::string>& messages() const { return messages_; }

  // Throws one UnsupportedError: the single refusal as it was, or "SOURCE: N <noun>s cannot be
  // <verb>:" then one refusal per line. Does nothing when there is none.
  void throw_if_any(const std::string& noun, const std::string& verb = "converted") const {
    if (messages_.empty()) return;
    if (messages_.size() == 1) throw akida::UnsupportedError(source_ + ": " + messages_.front());
    std::string text = source_ + ": " + std::to_string(messages_.size()) + " " + noun +
                       "s cannot be " + verb + ":";
    for (const std::string& line : messages_) text += "\n" + line;
    throw akida::UnsupportedError(text);
  }

 private:
  std::string source_;
  std::vector<std::string> messages_;
};

}  // namespace cnn2snn
