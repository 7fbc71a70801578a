// The .fbz container: one raw Snappy block (not the framed format), padded with zeros or stale
// bytes up to snappy::MaxCompressedLength(n) = 32 + n + n/6 bytes, as BrainChip's writer leaves it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace akida::fbz {

// The largest payload accepted (256 MiB): far above any real model (the largest fixture holds
// 1.9 MB), small enough that a hostile length never triggers a huge allocation.
inline constexpr size_t kMaxPayloadBytes = size_t{256} << 20;

// The Snappy block's uncompressed payload. Walks the tags first (bounds-checked, without
// producing output) to find where the block ends and to prove it yields exactly the declared
// length, so the payload buffer is allocated only for a length the file really encodes.
// Throws FormatError "SOURCE: ..." on any inconsistency.
std::vector<uint8_t> decompress_container(std::span<const uint8_t> file, const std::string& source);

// The whole padded container for `payload` (byte layout of BrainChip's writer: the compressed
// block followed by zeros up to MaxCompressedLength).
std::vector<uint8_t> compress_container(std::span<const uint8_t> payload);

}  // namespace akida::fbz
