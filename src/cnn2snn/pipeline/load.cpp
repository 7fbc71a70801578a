// Loading a quantized model by content: users name files freely (a QuantizeML .h5 saved without
// extension, an ONNX file called .bin), and an .fbz passed by mistake deserves a clear answer.
#include <array>
#include <filesystem>
#include <fstream>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/keras_reader.h"
#include "cnn2snn/legacy_reader.h"
#include "cnn2snn/onnx_reader.h"
#include "cnn2snn/pipeline.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras/model_config.h"

namespace cnn2snn {
namespace {

constexpr std::array<unsigned char, 8> kHdf5Signature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
// HDF5 looks for its superblock at 0 and at every power of two from 512 (a user block before it).
constexpr std::array<std::streamoff, 4> kHdf5SignatureOffsets = {0, 512, 1024, 2048};
// ModelProto field 1 (ir_version), wire type varint: the first byte of every ONNX file written by
// onnx, PyTorch or tf2onnx (protobuf serializes fields in number order).
constexpr unsigned char kOnnxFirstByte = 0x08;

std::ifstream open_model(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw akida::FormatError(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw akida::FormatError(path + ": cannot open");
  return in;
}

bool has_hdf5_signature(std::ifstream& in) {
  for (std::streamoff offset : kHdf5SignatureOffsets) {
    std::array<unsigned char, kHdf5Signature.size()> bytes{};
    in.clear();
    in.seekg(offset);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), bytes.size())) return false;
    if (bytes == kHdf5Signature) return true;
  }
  return false;
}

bool is_fbz(const std::string& path) {
  try {
    akida::read_fbz(path);
    return true;
  } catch (const akida::Error&) {
    return false;
  }
}

}  // namespace

ModelFormat detect_model_format(const std::string& path) {
  std::ifstream in = open_model(path);
  if (has_hdf5_signature(in)) return ModelFormat::KerasH5;
  in.clear();
  in.seekg(0);
  const int first = in.get();
  if (first == kOnnxFirstByte) return ModelFormat::Onnx;
  if (first == std::char_traits<char>::eof()) return ModelFormat::Unknown;  // empty file
  // Last, because it decompresses the whole file: .fbz files have no signature.
  return is_fbz(path) ? ModelFormat::AkidaFbz : ModelFormat::Unknown;
}

QuantizedGraph load_quantized_model(const std::string& path,
                                    std::optional<InputScaling> input_scaling) {
  bool v1 = false;
  try {
    v1 = target_akida_version() == AkidaVersion::v1;
  } catch (const akida::Error& e) {
    throw akida::Error(path + ": " + e.what());  // errors name the file being read
  }
  switch (detect_model_format(path)) {
    // Akida 1.0 blocks differ (GAP before the ReLU, separable convolutions): cnn2snn's v1
    // patterns and block search.
    case ModelFormat::KerasH5:
      // Legacy CNN2SNN models convert to Akida 1.0 whatever the target (cnn2snn does the same).
      if (is_legacy_cnn2snn_h5(path)) return load_legacy_cnn2snn_h5(path, input_scaling);
      return v1 ? load_keras_h5_v1(path) : load_keras_h5(path);
    case ModelFormat::Onnx:
      if (v1)
        throw akida::UnsupportedError(path + ": Akida v1 does not support ONNX models. Use Akida "
                                             "v2 instead.");
      return load_onnx(path);
    case ModelFormat::AkidaFbz:
      throw akida::UnsupportedError(path +
                                    ": is already an Akida model (.fbz): there is nothing to "
                                    "convert; use the `akida` command to inspect or run it");
    case ModelFormat::Unknown: break;
  }
  throw akida::FormatError(path +
                           ": not a quantized model: neither a Keras HDF5 file (.h5) nor an "
                           "ONNX protobuf (.onnx), by content");
}

}  // namespace cnn2snn
