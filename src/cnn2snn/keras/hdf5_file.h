// A small read-only view of an HDF5 file, enough for Keras' legacy `.h5` layout: string
// attributes and float datasets addressed by path. libhdf5 runs in a child process
// (hdf5_child.h): Debian's 1.10 crashes on some corrupt files, and a crash, an overflow, a huge
// allocation or a hang there becomes an akida::FormatError naming the file and the object here.
// Failures of the reads themselves are akida::FormatError naming the file and the object too.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cnn2snn/keras/hdf5_budget.h"

namespace cnn2snn::keras {

class Hdf5Child;

// A float32 array of any rank (rank 0: a scalar with one value), row-major.
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Every read allocates from a budget of a few times the file's size (hdf5_budget.h): sizes the
// file declares cannot make the reader allocate more, in the child or here.
class Hdf5File {
 public:
  // Opens `path` read-only. Throws akida::FormatError when the file is missing, is not HDF5
  // (no signature) or cannot be opened (e.g. truncated).
  explicit Hdf5File(const std::string& path);
  // Opens a file image held in memory (HDF5's core driver; nothing touches the disk), e.g. bytes
  // a fuzzer or a caller produced; `source` names it in errors. The child reads its own copy.
  Hdf5File(std::span<const uint8_t> image, const std::string& source);
  // Stops the child process.
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  // The file's path, or the `source` an image was opened with: errors start with it.
  const std::string& path() const { return path_; }
  bool exists(const std::string& object) const;
  // A scalar string attribute of `object` ("/" for the root); nullopt when absent.
  std::optional<std::string> string_attribute(const std::string& object,
                                              const std::string& name) const;
  // A 1-D string array attribute; an empty numeric array (Keras' "no weights") gives {}.
  // nullopt when absent.
  std::optional<std::vector<std::string>> string_list_attribute(const std::string& object,
                                                                const std::string& name) const;
  // A floating-point dataset converted to float32; every value must be finite.
  FloatArray float_dataset(const std::string& object) const;

  // The child process' id (tests check it is gone once the file is destroyed).
  int child_pid() const;

 private:
  [[noreturn]] void fail(const std::string& object, const std::string& message) const;
  std::string read_string(const std::string& object, const std::string& what) const;
  void refuse_non_finite(const FloatArray& array, const std::string& object) const;

  std::string path_;
  mutable Hdf5Budget budget_;
  std::unique_ptr<Hdf5Child> child_;
};

}  // namespace cnn2snn::keras
