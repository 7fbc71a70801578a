// A small read-only view of an HDF5 file, enough for Keras' legacy `.h5` layout: string
// attributes and float datasets addressed by path. Every HDF5 id is owned by an RAII handle, and
// HDF5's own error printing is silenced: failures become akida::FormatError naming the file and
// the object.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cnn2snn::keras {

// A float32 array of any rank (rank 0: a scalar with one value), row-major.
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Owns one hid_t and closes it with the matching H5*close function.
class H5Handle {
 public:
  using Closer = int (*)(int64_t);
  H5Handle() = default;
  H5Handle(int64_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(H5Handle&& other) noexcept { *this = std::move(other); }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }

  int64_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  int64_t id_ = -1;
  Closer closer_ = nullptr;
};

// Every read allocates from a budget of a few times the file's size (hdf5_file.cpp): sizes the
// file declares cannot make the reader allocate more.
class Hdf5File {
 public:
  // Opens `path` read-only. Throws akida::FormatError when the file is missing, is not HDF5
  // (no signature) or cannot be opened (e.g. truncated).
  explicit Hdf5File(const std::string& path);
  // Opens a file image held in memory (HDF5's core driver; nothing touches the disk), e.g. bytes
  // a fuzzer or a caller produced; `source` names it in errors. The bytes are copied.
  Hdf5File(std::span<const uint8_t> image, const std::string& source);

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

 private:
  [[noreturn]] void fail(const std::string& object, const std::string& message) const;
  void refuse_unopened() const;
  void set_budget(uint64_t file_bytes);
  // Takes `bytes` from the memory budget before `what` of `object` allocates them; fails
  // ("... would take N bytes in memory, more than a file of M bytes can hold") when it is spent.
  void spend(const std::string& object, const std::string& what, uint64_t bytes) const;
  std::string read_scalar_string(int64_t attribute, int64_t type, const std::string& object,
                                 const std::string& name) const;

  std::string path_;
  H5Handle file_;
  uint64_t file_bytes_ = 0;
  mutable uint64_t budget_left_ = 0;  // bytes the reads may still take (see kBudgetPerFileByte)
};

}  // namespace cnn2snn::keras
