// `check`: every reason a model file cannot become an Akida model, in one list.
//
// The front ends report what they refuse as UnsupportedError messages (their contract names the
// file, then "layer|node 'NAME' (Type)", then the field); the converter reports structured
// Incompatibility values. A check report needs one form, so front-end messages are taken apart
// here along that documented context format. A message that does not follow it is kept whole.
#include <regex>

#include "akida/errors.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/pipeline.h"

namespace cnn2snn {
namespace {

constexpr std::string_view kInvalidBlock = "Invalid block found during conversion:\n";
constexpr std::string_view kPatternsHeader = "Compatible patterns that contain the faulty layers are:";

std::string strip_prefix(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : text;
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \n") - begin + 1);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = trim(text.substr(start, end == std::string::npos ? end : end - start));
    if (!line.empty()) lines.push_back(line);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

// One section of the Keras front end's invalid-block report:
//   " Type (name)" per faulty layer, the patterns header, then " - A > B" per pattern.
Incompatibility invalid_block(const std::string& section) {
  std::vector<std::string> names, layers, patterns;
  bool in_patterns = false;
  static const std::regex layer_line(R"(^(\S+) \((.*)\)$)");
  for (const std::string& line : lines_of(section)) {
    std::smatch m;
    if (line == kPatternsHeader) {
      in_patterns = true;
    } else if (in_patterns) {
      patterns.push_back(trim(strip_prefix(line, "-")));
    } else {
      layers.push_back(line);
      if (std::regex_match(line, m, layer_line)) names.push_back(m[2]);
    }
  }
  Incompatibility result{"", "block", "invalid block "};
  for (size_t i = 0; i < names.size(); ++i) result.layer += (i ? ", " : "") + names[i];
  for (size_t i = 0; i < layers.size(); ++i) result.problem += (i ? " > " : "") + layers[i];
  if (!patterns.empty()) {
    result.problem += "; compatible patterns that contain the faulty layers:";
    for (size_t i = 0; i < patterns.size(); ++i) result.problem += (i ? "; " : " ") + patterns[i];
  }
  return result;
}

// "layer 'NAME' (Type): message" / "node 'NAME' (Op): message", the message naming its field as
// "field 'F' ..." when it concerns one.
Incompatibility located_problem(const std::string& text) {
  static const std::regex located(R"(^(?:layer|node) '([^']*)' \(([^)]*)\): ([\s\S]*)$)");
  static const std::regex field(R"(^field '([^']*)')");
  std::smatch m;
  if (!std::regex_match(text, m, located)) return {"", "model", text};
  Incompatibility result{m[1], "layer", m[3]};
  const std::string message = m[3];
  std::smatch f;
  if (std::regex_search(message, f, field)) result.field = f[1];
  return result;
}

std::vector<Incompatibility> front_end_incompatibilities(const std::string& message,
                                                         const std::string& source) {
  const std::string text = strip_prefix(message, source + ": ");
  if (text.rfind(kInvalidBlock, 0) != 0) {
    // One refusal, or a header line then one refusal per line (every unsupported node or layer).
    const std::vector<std::string> lines = lines_of(text);
    if (lines.size() <= 1) return {located_problem(trim(text))};
    std::vector<Incompatibility> result;
    for (size_t i = 1; i < lines.size(); ++i) result.push_back(located_problem(lines[i]));
    return result;
  }
  std::vector<Incompatibility> result;
  size_t start = 0;
  while (start < text.size()) {
    const size_t body = start + kInvalidBlock.size();
    const size_t next = text.find(kInvalidBlock, body);
    result.push_back(invalid_block(text.substr(body, next == std::string::npos ? next : next - body)));
    start = next;
  }
  return result;
}

}  // namespace

CheckReport check_model(const std::string& path) {
  CheckReport report{path, target_akida_version(), {}, {}};
  // An .fbz or an unreadable file is an error, not an incompatibility: detect first.
  const ModelFormat format = detect_model_format(path);
  if (format == ModelFormat::AkidaFbz || format == ModelFormat::Unknown) load_quantized_model(path);
  // Legacy CNN2SNN models only convert to Akida 1.0.
  if (format == ModelFormat::KerasH5 && is_legacy_cnn2snn_h5(path)) report.target = AkidaVersion::v1;
  QuantizedGraph graph;
  try {
    graph = load_quantized_model(path);
  } catch (const akida::UnsupportedError& e) {
    report.incompatibilities = front_end_incompatibilities(e.what(), path);
    return report;
  }
  if (report.target == AkidaVersion::v1) {
    report.incompatibilities = check_v1(graph);  // v1 rules include the hardware limits
    return report;
  }
  report.incompatibilities = check_v2(graph);
  report.hardware_limits = check_v2_hardware(graph);
  return report;
}

}  // namespace cnn2snn
