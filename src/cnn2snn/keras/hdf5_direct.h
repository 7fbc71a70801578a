// libhdf5 itself, on one file: string attributes and float datasets addressed by path, enough
// for Keras' legacy `.h5` layout. Only the child process of hdf5_child.h uses it: Debian's
// libhdf5 crashes on some corrupt files, and the tools must not (hdf5_file.h). Every HDF5 id is
// owned by an RAII handle, and HDF5's own error printing is silenced: failures become
// akida::FormatError naming the file and the object.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cnn2snn/keras/hdf5_budget.h"
#include "cnn2snn/keras/hdf5_file.h"

namespace cnn2snn::keras {

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

// The reads of Hdf5File (same meaning, same errors), made with libhdf5 in this process. The
// caller has checked the raw bytes first (hdf5_precheck.h). Every read allocates from an
// Hdf5Budget of the file's size.
// Initializes libhdf5 and silences its error printing, once per process; the parent calls it
// before forking (hdf5_child.cpp). Reads no file.
void initialize_hdf5_library();

class DirectHdf5File {
 public:
  // Opens `path` read-only; `file_bytes` is its size. Throws akida::FormatError when libhdf5
  // cannot open it (e.g. truncated).
  DirectHdf5File(const std::string& path, uint64_t file_bytes);
  // Opens a file image held in memory (HDF5's core driver; nothing touches the disk); `source`
  // names it in errors.
  DirectHdf5File(std::span<const uint8_t> image, const std::string& source);

  bool exists(const std::string& object) const;
  std::optional<std::string> string_attribute(const std::string& object,
                                              const std::string& name) const;
  std::optional<std::vector<std::string>> string_list_attribute(const std::string& object,
                                                                const std::string& name) const;
  FloatArray float_dataset(const std::string& object) const;

 private:
  struct Attribute {
    H5Handle attr, type, space;
  };
  // `name` of `object` opened with its type and dataspace; nullopt when either is absent.
  std::optional<Attribute> open_attribute(const std::string& object,
                                          const std::string& name) const;
  [[noreturn]] void fail(const std::string& object, const std::string& message) const;
  void refuse_unopened() const;
  std::string read_scalar_string(int64_t attribute, int64_t type, const std::string& object,
                                 const std::string& name) const;

  std::string path_;
  H5Handle file_;
  mutable Hdf5Budget budget_;
};

}  // namespace cnn2snn::keras
