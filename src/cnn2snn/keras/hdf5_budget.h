// The memory a reading of one HDF5 file may take. Both sides of the isolation (hdf5_file.h) check
// against it: the child before libhdf5 fills a buffer, the parent before it allocates what the
// child sends (a child that libhdf5 corrupted could send any length).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "akida/errors.h"

namespace cnn2snn::keras {

// Datasets larger than this are refused before any allocation (the largest Keras layer of the
// zoo holds a few million weights).
constexpr int64_t kMaxHdf5Elements = int64_t{1} << 28;

// Datasets of more dims are refused (Keras weights have at most 5).
constexpr int kMaxHdf5Rank = 8;
// String list attributes of more strings are refused (a layer lists its few weight names).
constexpr int64_t kMaxHdf5ListSize = 1'000'000;

// The number of values of a dataset of `dims`; nullopt when it is over kMaxHdf5Elements (checked
// dim by dim, so the product cannot overflow).
inline std::optional<int64_t> hdf5_element_count(std::span<const uint64_t> dims) {
  int64_t count = 1;
  for (uint64_t d : dims) {
    if (d > static_cast<uint64_t>(kMaxHdf5Elements) ||
        count * static_cast<int64_t>(d) > kMaxHdf5Elements)
      return std::nullopt;
    count *= static_cast<int64_t>(d);
  }
  return count;
}

// What the strings and datasets read from one file may take in memory together: the sizes HDF5
// declares (a string type's length, a dataspace's dims) are fields of the file, and a tiny file
// can declare gigabytes (a dataset without storage reads as its fill value). Keras files store
// their data uncompressed: what they hold in memory is at most their size. The factor leaves
// room for compressed datasets; the slack for small files.
class Hdf5Budget {
 public:
  static constexpr uint64_t kPerFileByte = 4;
  static constexpr uint64_t kSlack = uint64_t{1} << 20;

  Hdf5Budget(std::string source, uint64_t file_bytes)
      : source_(std::move(source)), file_bytes_(file_bytes),
        left_(kPerFileByte * file_bytes + kSlack) {}

  // Takes `bytes` before `what` of `object` allocates them; throws akida::FormatError ("... would
  // take N bytes in memory, more than a file of M bytes can hold") when the budget is spent.
  void spend(const std::string& object, const std::string& what, uint64_t bytes) {
    if (bytes > left_)
      throw akida::FormatError(source_ + ": HDF5 object '" + object + "': " + what +
                               " would take " + std::to_string(bytes) +
                               " bytes in memory, more than a file of " +
                               std::to_string(file_bytes_) +
                               " bytes can hold (corrupt or hostile sizes)");
    left_ -= bytes;
  }

  uint64_t file_bytes() const { return file_bytes_; }

 private:
  std::string source_;
  uint64_t file_bytes_;
  uint64_t left_;  // bytes the reads may still take
};

}  // namespace cnn2snn::keras
