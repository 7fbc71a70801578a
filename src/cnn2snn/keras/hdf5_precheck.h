// Checks of an HDF5 file's raw bytes made before the HDF5 library opens it: the signature, and
// the structures that Debian's HDF5 1.10 reads without checking, where a hostile file makes the
// library itself hang or crash (fuzz_keras_h5 found them; docs/robustness.md). Each check
// refuses only what the library would mishandle: valid files always pass.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cnn2snn::keras {

// Random access to a file's bytes, on disk or in memory, without reading it all.
class RawBytes {
 public:
  explicit RawBytes(std::span<const uint8_t> image) : image_(image), size_(image.size()) {}
  // Precondition: `path` is a regular file.
  explicit RawBytes(const std::string& path);

  uint64_t size() const { return size_; }
  // `count` bytes at `offset`, or nullopt when they run past the end.
  std::optional<std::vector<uint8_t>> read(uint64_t offset, uint64_t count) const;

 private:
  std::span<const uint8_t> image_;
  mutable std::ifstream file_;
  bool on_disk_ = false;
  uint64_t size_ = 0;
};

// Where the superblock starts: HDF5 looks for its signature at offset 0, then at every power of
// two from 512 (a user block may precede it). nullopt: not an HDF5 file.
std::optional<uint64_t> hdf5_superblock_offset(const RawBytes& bytes);

// Throws akida::FormatError "SOURCE: ..." when the file holds a global heap collection (the
// "GCOL" blocks that keep variable-length strings) whose objects would keep HDF5 1.10's reader
// from ever reaching the collection's end (H5HG__cache_heap_deserialize loops forever on a
// free-space object of size 0, and follows sizes past the collection).
void refuse_looping_global_heaps(const RawBytes& bytes, uint64_t superblock,
                                 const std::string& source);

}  // namespace cnn2snn::keras
