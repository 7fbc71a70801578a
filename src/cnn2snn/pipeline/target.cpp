// The target Akida generation, as BrainChip's cnn2snn.akida_versions keeps it: in the process
// environment, so that a setting made by a caller (or a shell) reaches every conversion.
#include <cstdlib>

#include "akida/errors.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/pipeline.h"

namespace cnn2snn {

const char* to_string(AkidaVersion version) {
  return version == AkidaVersion::v1 ? "v1" : "v2";
}

AkidaVersion target_akida_version() {
  const char* value = std::getenv(kTargetVersionVariable);
  if (value == nullptr || *value == '\0') return AkidaVersion::v2;
  const std::string text = value;
  if (text == "v1") return AkidaVersion::v1;
  if (text == "v2") return AkidaVersion::v2;
  throw akida::Error(std::string(kTargetVersionVariable) + "=" + text +
                     " must be one of ['v1', 'v2']");
}

ScopedAkidaVersion::ScopedAkidaVersion(AkidaVersion version) {
  if (const char* value = std::getenv(kTargetVersionVariable)) previous_ = value;
  setenv(kTargetVersionVariable, to_string(version), 1);
}

ScopedAkidaVersion::~ScopedAkidaVersion() {
  if (previous_)
    setenv(kTargetVersionVariable, previous_->c_str(), 1);
  else
    unsetenv(kTargetVersionVariable);
}

akida::Model convert(const QuantizedGraph& graph) {
  if (graph.legacy_cnn2snn || target_akida_version() == AkidaVersion::v1)
    return convert_to_akida_v1(graph);
  return convert_to_akida_v2(graph);
}

}  // namespace cnn2snn
