#include "akida/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

#include "akida/atomic_file.h"
#include "akida/errors.h"
#include "akida/read_file.h"

namespace akida {
namespace {

constexpr uint8_t kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kMagicSize = sizeof(kMagic);

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A recursive-descent reader for the one dict literal NumPy writes. It accepts what Python's
// ast.literal_eval would for these three keys (either quote style, optional trailing commas,
// spaces anywhere) and nothing else, so a hostile header can only produce an error.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Header parse() {
    Header header;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (!peek_is('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        header.descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_fortran = true;
      } else if (key == "shape") {
        header.shape = int_tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek_is('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
      fail("the header dict must have the keys 'descr', 'fortran_order' and 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_ + ": .npy header: " + what + " (at offset " + std::to_string(pos_) +
                      " of the header)");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool peek_is(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek_is(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("expected a quoted string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (text_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    fail("expected True or False");
  }
  int64_t integer() {
    skip_space();
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
      ++pos_;
    }
    // NumPy writes plain non-negative decimals; Python 2 era files may add an 'L' suffix.
    if (pos_ == start) fail("expected a non-negative integer dimension");
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    return value;
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!peek_is(')')) {
      dims.push_back(integer());
      if (!peek_is(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

NpyDType dtype_from_descr(const std::string& descr, const std::string& source) {
  // One-byte types have no byte order; NumPy writes '|' but '<' and '=' mean the same there.
  if (descr == "|u1" || descr == "<u1" || descr == "=u1" || descr == "u1") return NpyDType::UInt8;
  if (descr == "|i1" || descr == "<i1" || descr == "=i1" || descr == "i1") return NpyDType::Int8;
  if (descr == "<i4") return NpyDType::Int32;
  if (descr == "<f4") return NpyDType::Float32;
  throw UnsupportedError(source + ": .npy dtype '" + descr +
                         "' is not supported (expected uint8 '|u1', int8 '|i1', little-endian "
                         "int32 '<i4' or float32 '<f4')");
}

uint32_t read_le(std::span<const uint8_t> bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= static_cast<uint32_t>(bytes[offset + i]) << (8 * i);
  return value;
}

// Product of dims, or nullopt when it overflows size_t or a dim does not fit.
std::optional<size_t> checked_product(const std::vector<int64_t>& dims, size_t element_size) {
  size_t product = element_size;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    const auto ud = static_cast<uint64_t>(d);
    if (ud != 0 && product > std::numeric_limits<size_t>::max() / ud) return std::nullopt;
    product *= ud;
  }
  return product;
}

}  // namespace

std::string npy_shape_text(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";  // Python's 1-tuple spelling
  return text + ")";
}

const char* npy_dtype_name(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::UInt8:
      return "uint8";
    case NpyDType::Int8:
      return "int8";
    case NpyDType::Int32:
      return "int32";
    case NpyDType::Float32:
      return "float32";
  }
  return "unknown";
}

const char* npy_descr(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::UInt8:
      return "|u1";
    case NpyDType::Int8:
      return "|i1";
    case NpyDType::Int32:
      return "<i4";
    case NpyDType::Float32:
      return "<f4";
  }
  return "";
}

size_t npy_dtype_size(NpyDType dtype) {
  return (dtype == NpyDType::Int32 || dtype == NpyDType::Float32) ? 4 : 1;
}

size_t NpyArray::element_count() const {
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  return count;
}

int64_t NpyArray::int_at(size_t i) const {
  switch (dtype) {
    case NpyDType::UInt8:
      return data[i];
    case NpyDType::Int8:
      return static_cast<int8_t>(data[i]);
    case NpyDType::Int32:
      return static_cast<int32_t>(read_le(data, 4 * i, 4));
    case NpyDType::Float32:
      return static_cast<int64_t>(float_at(i));
  }
  return 0;
}

float NpyArray::float_at(size_t i) const {
  if (dtype != NpyDType::Float32) return static_cast<float>(int_at(i));
  const uint32_t bits = read_le(data, 4 * i, 4);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& source) {
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    throw FormatError(source + ": not a .npy file (no \\x93NUMPY magic)");
  const uint8_t major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    throw UnsupportedError(source + ": .npy version " + std::to_string(major) + "." +
                           std::to_string(minor) + " is not supported (1.0, 2.0, 3.0 are)");
  const size_t length_width = major == 1 ? 2 : 4;
  const size_t header_start = kMagicSize + 2 + length_width;
  if (bytes.size() < header_start)
    throw FormatError(source + ": .npy file truncated in its preamble");
  const size_t header_length = read_le(bytes, kMagicSize + 2, length_width);
  if (header_length > kMaxNpyHeaderBytes)
    throw FormatError(source + ": .npy header of " + std::to_string(header_length) +
                      " bytes is longer than the limit of " + std::to_string(kMaxNpyHeaderBytes));
  if (bytes.size() - header_start < header_length)
    throw FormatError(source + ": .npy file truncated in its header (" +
                      std::to_string(header_length) + " bytes declared, " +
                      std::to_string(bytes.size() - header_start) + " present)");
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + header_start),
                                     header_length);
  const Header header = HeaderParser(header_text, source).parse();

  NpyArray array;
  array.dtype = dtype_from_descr(header.descr, source);
  if (header.fortran_order)
    throw UnsupportedError(source +
                           ": .npy array is in Fortran order; only C order is supported "
                           "(save np.ascontiguousarray(a))");
  array.shape = header.shape;
  const auto data_size = checked_product(array.shape, npy_dtype_size(array.dtype));
  if (!data_size)
    throw FormatError(source + ": .npy shape " + npy_shape_text(array.shape) + " is too large");
  const size_t data_start = header_start + header_length;
  const size_t present = bytes.size() - data_start;
  if (present != *data_size)
    throw FormatError(source + ": .npy data has " + std::to_string(present) + " bytes, shape " +
                      npy_shape_text(array.shape) + " of " + npy_dtype_name(array.dtype) +
                      " needs " + std::to_string(*data_size));
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  return array;
}

NpyArray read_npy(const std::string& path) {
  return parse_npy(read_file(path, kMaxNpyFileBytes, "a .npy file"), path);
}

std::vector<uint8_t> to_npy_bytes(const NpyArray& array) {
  const auto data_size = checked_product(array.shape, npy_dtype_size(array.dtype));
  if (!data_size || *data_size != array.data.size())
    throw ShapeError("npy array of shape " + npy_shape_text(array.shape) + " and dtype " +
                     npy_dtype_name(array.dtype) + " has " + std::to_string(array.data.size()) +
                     " data bytes");
  std::string header = std::string("{'descr': '") + npy_descr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + npy_shape_text(array.shape) + ", }";
  // NumPy aligns the data on 64 bytes: preamble + header (ending in '\n') is a multiple of 64.
  const size_t preamble = kMagicSize + 2 + 2;
  const size_t unpadded = preamble + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xFFFF)
    throw ShapeError("npy array of rank " + std::to_string(array.shape.size()) +
                     " has a header too long for .npy version 1.0");
  std::vector<uint8_t> bytes(kMagic, kMagic + kMagicSize);
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<uint8_t>(header.size() & 0xFF));
  bytes.push_back(static_cast<uint8_t>(header.size() >> 8));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), array.data.begin(), array.data.end());
  return bytes;
}

void write_npy(const NpyArray& array, const std::string& path) {
  write_file_atomically(path, to_npy_bytes(array));
}

Batch to_batch(const NpyArray& array, const Shape& sample, const std::string& source) {
  if (array.dtype == NpyDType::Float32)
    throw ShapeError(source + ": inputs must be integers, got a float32 array");
  const std::vector<int64_t>& s = array.shape;
  const bool full = s.size() == 4 && s[1] == sample.x && s[2] == sample.y && s[3] == sample.c;
  const bool flat = s.size() == 2 && sample.x == 1 && sample.y == 1 && s[1] == sample.c;
  if (!full && !flat) {
    std::string expected = "(N, " + std::to_string(sample.x) + ", " + std::to_string(sample.y) +
                           ", " + std::to_string(sample.c) + ")";
    if (sample.x == 1 && sample.y == 1) expected += " or (N, " + std::to_string(sample.c) + ")";
    throw ShapeError(source + ": input shape " + npy_shape_text(s) +
                     " does not fit the model, expected " + expected);
  }
  Batch batch;
  batch.n = s[0];
  batch.shape = sample;
  batch.values.resize(array.element_count());
  // Every accepted dtype's values fit int32 exactly.
  for (size_t i = 0; i < batch.values.size(); ++i)
    batch.values[i] = static_cast<int32_t>(array.int_at(i));
  return batch;
}

namespace {
template <typename T>
NpyArray batch_to_npy(const BatchOf<T>& batch, NpyDType dtype) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = {batch.n, batch.shape.x, batch.shape.y, batch.shape.c};
  array.data.resize(batch.values.size() * sizeof(T));
  // .npy data is little-endian, as is every target this project builds for.
  static_assert(std::endian::native == std::endian::little);
  std::memcpy(array.data.data(), batch.values.data(), array.data.size());
  return array;
}
}  // namespace

NpyArray to_npy(const Batch& batch) { return batch_to_npy(batch, NpyDType::Int32); }
NpyArray to_npy(const FloatBatch& batch) { return batch_to_npy(batch, NpyDType::Float32); }

}  // namespace akida
