#include "cnn2snn/keras/hdf5_file.h"

#include <cmath>
#include <filesystem>

#include "akida/errors.h"
#include "cnn2snn/keras/hdf5_child.h"
#include "cnn2snn/keras/hdf5_precheck.h"

namespace cnn2snn::keras {
namespace {

// The checks of the raw bytes that come before the HDF5 library sees them (hdf5_precheck.h).
void precheck(const RawBytes& bytes, const std::string& source) {
  const auto superblock = hdf5_superblock_offset(bytes);
  if (!superblock)
    throw akida::FormatError(source + ": not an HDF5 file (no HDF5 signature); expected a Keras "
                                      ".h5 model saved by QuantizeML");
  refuse_looping_global_heaps(bytes, *superblock, source);
}

uint64_t checked_file_size(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw akida::FormatError(path + ": no such file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw akida::FormatError(path + ": cannot read its size: " + ec.message());
  return size;
}

std::string reading(const std::string& object) { return "reading '" + object + "'"; }

std::string reading(const std::string& object, const std::string& name) {
  return "reading attribute '" + name + "' of '" + object + "'";
}

// Reads the value part of an answer with `read`. A failure midway (a size the budget refuses)
// leaves the rest of the answer unread: the child is stopped, being out of step.
template <class Read>
auto read_value(Hdf5Child& child, Read read) -> decltype(read()) {
  try {
    return read();
  } catch (const std::exception& e) {
    child.abandon(e.what());
    throw;
  }
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path) : path_(path), budget_(path, checked_file_size(path)) {
  precheck(RawBytes(path), path);
  child_ = std::make_unique<Hdf5Child>(path, budget_.file_bytes(), Hdf5Target{path, {}},
                                       Hdf5ForkServer::for_process());
}

Hdf5File::Hdf5File(std::span<const uint8_t> image, const std::string& source)
    : path_(source), budget_(source, image.size()) {
  precheck(RawBytes(image), source);
  child_ = std::make_unique<Hdf5Child>(source, image.size(), Hdf5Target{"", image},
                                       Hdf5ForkServer::for_process());
}

Hdf5File::~Hdf5File() = default;

int Hdf5File::child_pid() const { return child_->pid(); }

std::string Hdf5File::read_string(const std::string& object, const std::string& what) const {
  const uint64_t size = child_->read_u64();
  budget_.spend(object, what, size);
  std::string text(size, '\0');
  child_->read_bytes(text.data(), size);
  return text;
}

void Hdf5File::fail(const std::string& object, const std::string& message) const {
  throw akida::FormatError(path_ + ": HDF5 object '" + object + "': " + message);
}

void Hdf5File::refuse_non_finite(const FloatArray& array, const std::string& object) const {
  // QuantizeML's arithmetic (and ours after it) needs finite values: a NaN or an infinity (or a
  // float64 beyond float32) would turn into integers nobody can define.
  for (size_t i = 0; i < array.values.size(); ++i)
    if (!std::isfinite(array.values[i]))
      fail(object, "dataset value #" + std::to_string(i) + " is " +
                       (std::isnan(array.values[i]) ? "NaN" : "infinite") +
                       " (as float32): weights must be finite");
}

bool Hdf5File::exists(const std::string& object) const {
  child_->ask(Hdf5Request::kExists, object, "", reading(object));
  return read_value(*child_, [&] { return child_->read_u64() != 0; });
}

std::optional<std::string> Hdf5File::string_attribute(const std::string& object,
                                                      const std::string& name) const {
  if (child_->ask(Hdf5Request::kStringAttribute, object, name, reading(object, name)) ==
      Hdf5Answer::kAbsent)
    return std::nullopt;
  return read_value(*child_, [&] { return read_string(object, "attribute '" + name + "'"); });
}

std::optional<std::vector<std::string>> Hdf5File::string_list_attribute(
    const std::string& object, const std::string& name) const {
  if (child_->ask(Hdf5Request::kStringListAttribute, object, name, reading(object, name)) ==
      Hdf5Answer::kAbsent)
    return std::nullopt;
  return read_value(*child_, [&] {
    const uint64_t count = child_->read_u64();
    if (count > static_cast<uint64_t>(kMaxHdf5ListSize))
      fail(object, "attribute '" + name + "' has a bad size");
    std::vector<std::string> values(count);
    for (std::string& value : values) value = read_string(object, "attribute '" + name + "'");
    return values;
  });
}

FloatArray Hdf5File::float_dataset(const std::string& object) const {
  child_->ask(Hdf5Request::kFloatDataset, object, "", reading(object));
  return read_value(*child_, [&] {
    const uint64_t rank = child_->read_u64();
    if (rank > static_cast<uint64_t>(kMaxHdf5Rank)) fail(object, "dataset has an unsupported rank");
    std::vector<uint64_t> dims(rank);
    for (uint64_t& dim : dims) dim = child_->read_u64();
    const auto count = hdf5_element_count(dims);
    if (!count) fail(object, "dataset is unreasonably large");
    budget_.spend(object, "dataset", static_cast<uint64_t>(*count) * sizeof(float));
    FloatArray array;
    array.shape.assign(dims.begin(), dims.end());
    array.values.resize(static_cast<size_t>(*count));
    child_->read_bytes(array.values.data(), array.values.size() * sizeof(float));
    refuse_non_finite(array, object);
    return array;
  });
}

}  // namespace cnn2snn::keras
