#include "cnn2snn/keras/hdf5_precheck.h"

#include <algorithm>
#include <array>
#include <filesystem>

#include "akida/errors.h"

namespace cnn2snn::keras {
namespace {

constexpr std::array<uint8_t, 8> kSignature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr std::array<uint8_t, 4> kCollectionMagic = {'G', 'C', 'O', 'L'};
// H5HG_MINSIZE: HDF5 never writes a smaller collection.
constexpr uint64_t kMinCollectionBytes = 4096;
constexpr uint64_t kScanChunkBytes = uint64_t{1} << 20;

uint64_t read_le(const uint8_t* bytes, unsigned width) {
  uint64_t value = 0;
  for (unsigned i = 0; i < width; ++i) value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

// The superblock's "size of lengths" (2, 4 or 8 bytes), or nullopt for a superblock HDF5 itself
// refuses (then there is nothing to check).
std::optional<unsigned> length_width(const RawBytes& bytes, uint64_t superblock) {
  const auto head = bytes.read(superblock, 16);
  if (!head) return std::nullopt;
  const uint8_t version = (*head)[8];
  // Versions 0 and 1: signature, 5 version bytes, size of offsets, size of lengths.
  // Versions 2 and 3: signature, version, size of offsets, size of lengths.
  const uint8_t width = version <= 1 ? (*head)[14] : (*head)[10];
  if (width != 2 && width != 4 && width != 8) return std::nullopt;
  return width;
}

// Every offset where the collection magic appears.
std::vector<uint64_t> magic_offsets(const RawBytes& bytes) {
  std::vector<uint64_t> offsets;
  const uint64_t overlap = kCollectionMagic.size() - 1;
  for (uint64_t start = 0; start < bytes.size(); start += kScanChunkBytes) {
    const uint64_t count = std::min(kScanChunkBytes + overlap, bytes.size() - start);
    const auto chunk = bytes.read(start, count);
    if (!chunk) break;
    for (auto it = chunk->begin();
         (it = std::search(it, chunk->end(), kCollectionMagic.begin(), kCollectionMagic.end())) !=
         chunk->end();
         ++it) {
      const auto at = start + static_cast<uint64_t>(it - chunk->begin());
      if (offsets.empty() || offsets.back() != at) offsets.push_back(at);
    }
  }
  return offsets;
}

// Walks the objects of the collection as H5HG__cache_heap_deserialize does; the offset of an
// object that would not move the walk forward (or past the collection's end), or nullopt.
std::optional<uint64_t> stuck_object(const std::vector<uint8_t>& collection, unsigned width) {
  const uint64_t header = 8 + width;           // magic, version, 3 reserved, collection size
  const uint64_t object_header = 8 + width;    // index (2), references (2), reserved (4), size
  const uint64_t end = collection.size();
  for (uint64_t p = header; p < end;) {
    if (p + object_header > end) break;        // a tail too small for an object: free space
    const uint64_t index = read_le(&collection[p], 2);
    const uint64_t size = read_le(&collection[p + 8], width);
    // Object 0 is the free space, of its declared size; others are 8-aligned after their header.
    const uint64_t aligned = size > UINT64_MAX - 7 ? 0 : (size + 7) / 8 * 8;
    const uint64_t need = index == 0 ? size : object_header + aligned;
    if (need == 0 || need > end - p || (index != 0 && aligned < size)) return p;
    p += need;
  }
  return std::nullopt;
}

}  // namespace

RawBytes::RawBytes(const std::string& path)
    : file_(path, std::ios::binary), on_disk_(true), size_(std::filesystem::file_size(path)) {}

std::optional<std::vector<uint8_t>> RawBytes::read(uint64_t offset, uint64_t count) const {
  if (offset > size_ || count > size_ - offset) return std::nullopt;
  if (!on_disk_) return std::vector<uint8_t>(image_.begin() + offset, image_.begin() + offset + count);
  std::vector<uint8_t> out(count);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  if (!file_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count)))
    return std::nullopt;
  return out;
}

std::optional<uint64_t> hdf5_superblock_offset(const RawBytes& bytes) {
  for (uint64_t offset = 0; offset + kSignature.size() <= bytes.size();
       offset = offset == 0 ? 512 : offset * 2) {
    const auto head = bytes.read(offset, kSignature.size());
    if (head && std::equal(kSignature.begin(), kSignature.end(), head->begin())) return offset;
  }
  return std::nullopt;
}

void refuse_looping_global_heaps(const RawBytes& bytes, uint64_t superblock,
                                 const std::string& source) {
  const auto width = length_width(bytes, superblock);
  if (!width) return;
  for (uint64_t at : magic_offsets(bytes)) {
    const auto header = bytes.read(at, 8 + *width);
    if (!header || (*header)[4] != 1) continue;  // HDF5 refuses other versions itself
    const uint64_t size = read_le(&(*header)[8], *width);
    // Smaller or truncated collections make HDF5 fail before it walks them.
    if (size < kMinCollectionBytes || size > bytes.size() - at) continue;
    const auto collection = bytes.read(at, size);
    if (!collection) continue;
    if (const auto object = stuck_object(*collection, *width))
      throw akida::FormatError(
          source + ": corrupt HDF5 global heap (variable-length data) at byte " +
          std::to_string(at) + ": the object at byte " + std::to_string(at + *object) +
          " declares a size that does not fit its collection");
  }
}

}  // namespace cnn2snn::keras
