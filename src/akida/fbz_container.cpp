#include "akida/fbz_container.h"

#include <snappy-sinksource.h>
#include <snappy.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "akida/errors.h"

namespace akida::fbz {
namespace {

// Reads the little-endian varint at the start of the block; nullopt when it is unterminated or
// longer than the 5 bytes a 32-bit length can take.
struct Varint {
  uint64_t value;
  size_t length;
};

std::optional<Varint> read_varint(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 5; ++i) {
    value |= uint64_t{bytes[i] & 0x7fu} << (7 * i);
    if ((bytes[i] & 0x80u) == 0) return Varint{value, i + 1};
  }
  return std::nullopt;
}

uint32_t read_le(std::span<const uint8_t> bytes, size_t pos, size_t count) {
  uint32_t value = 0;
  for (size_t i = 0; i < count; ++i) value |= uint32_t{bytes[pos + i]} << (8 * i);
  return value;
}

// Where the Snappy tags that produce exactly `expected` bytes end (an offset into `bytes`).
// Checks every length and back-reference against what the block has produced so far, as snappy
// itself does: run where snappy stopped short, to name the byte and the reason.
size_t end_of_block(std::span<const uint8_t> bytes, size_t pos, uint64_t expected,
                    const std::string& source) {
  uint64_t produced = 0;
  auto fail = [&](const std::string& what) -> size_t {
    throw FormatError(source + ": corrupt or truncated Snappy block at byte " +
                      std::to_string(pos) + " (" + std::to_string(produced) + " of " +
                      std::to_string(expected) + " bytes produced): " + what);
  };
  while (produced < expected) {
    if (pos >= bytes.size()) return fail("data ends");
    const uint8_t tag = bytes[pos++];
    uint64_t length = 0;
    uint32_t offset = 0;
    size_t extra = 0;
    switch (tag & 3u) {
      case 0:  // literal: length in the tag, or in 1..4 following bytes
        length = tag >> 2;
        if (length >= 60) {
          extra = length - 59;
          if (bytes.size() - pos < extra) return fail("literal length cut short");
          length = read_le(bytes, pos, extra);
          pos += extra;
        }
        length += 1;
        if (bytes.size() - pos < length) return fail("literal runs past the end of the data");
        pos += length;
        break;
      case 1: extra = 1; length = ((tag >> 2) & 7u) + 4; break;
      case 2: extra = 2; length = (tag >> 2) + 1; break;
      default: extra = 4; length = (tag >> 2) + 1; break;
    }
    if ((tag & 3u) != 0) {
      if (bytes.size() - pos < extra) return fail("copy offset cut short");
      offset = read_le(bytes, pos, extra);
      if ((tag & 3u) == 1) offset |= uint32_t{static_cast<uint32_t>(tag >> 5)} << 8;
      pos += extra;
      if (offset == 0 || offset > produced) return fail("copy refers before the start");
    }
    produced += length;
  }
  if (produced != expected) return fail("block produces more bytes than its header declares");
  return pos;
}

// Where snappy::Uncompress writes: straight into the payload (a flat buffer of the declared
// length, so snappy decodes into it in place). Counts what snappy reports as produced.
class PayloadSink : public snappy::Sink {
 public:
  explicit PayloadSink(std::vector<uint8_t>& payload) : payload_(payload) {}
  void Append(const char* bytes, size_t n) override {
    n = std::min(n, payload_.size() - produced_);
    char* at = reinterpret_cast<char*>(payload_.data()) + produced_;
    if (bytes != at) std::memcpy(at, bytes, n);
    produced_ += n;
  }
  char* GetAppendBufferVariable(size_t min_size, size_t, char* scratch, size_t scratch_size,
                                size_t* allocated_size) override {
    const size_t left = payload_.size() - produced_;
    if (left < min_size) {
      *allocated_size = scratch_size;
      return scratch;
    }
    *allocated_size = left;
    return reinterpret_cast<char*>(payload_.data()) + produced_;
  }
  size_t produced() const { return produced_; }

 private:
  std::vector<uint8_t>& payload_;
  size_t produced_ = 0;
};

}  // namespace

std::vector<uint8_t> decompress_container(std::span<const uint8_t> file,
                                          const std::string& source) {
  const auto header = read_varint(file);
  if (!header) throw FormatError(source + ": corrupt Snappy header (unterminated length)");
  const uint64_t n = header->value;
  if (n == 0) throw FormatError(source + ": empty payload (Snappy length 0)");
  if (n > kMaxPayloadBytes)
    throw FormatError(source + ": Snappy header declares " + std::to_string(n) +
                      " bytes, more than the " + std::to_string(kMaxPayloadBytes) +
                      "-byte limit");
  // One pass: snappy decodes until its output holds the declared length (BrainChip's files carry
  // padding after the block, which it then refuses: Uncompress() returns false, yet everything
  // declared was produced, each copy checked). Short of that, the walk over the tags says where
  // and why the block is bad.
  std::vector<uint8_t> payload(static_cast<size_t>(n));
  snappy::ByteArraySource compressed(reinterpret_cast<const char*>(file.data()), file.size());
  PayloadSink sink(payload);
  snappy::Uncompress(&compressed, &sink);
  if (sink.produced() == n) return payload;
  end_of_block(file, header->length, n, source);  // throws the reason
  throw FormatError(source + ": corrupt Snappy block (rejected by snappy)");
}

std::vector<uint8_t> compress_container(std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(snappy::MaxCompressedLength(payload.size()), 0);
  size_t used = 0;
  snappy::RawCompress(reinterpret_cast<const char*>(payload.data()), payload.size(),
                      reinterpret_cast<char*>(out.data()), &used);
  // The whole worst-case buffer is kept: BrainChip's files are exactly this size.
  return out;
}

}  // namespace akida::fbz
