#include "akida/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "akida/errors.h"
#include "test_support.h"

namespace akida {
namespace {

// A .npy file built by hand from NumPy's published format description: magic, version,
// little-endian header length (2 bytes for 1.0, 4 for 2.0/3.0), header text, data.
std::vector<uint8_t> hand_npy(uint8_t major, const std::string& header,
                              const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const size_t n = header.size();
  bytes.push_back(n & 0xff);
  bytes.push_back((n >> 8) & 0xff);
  if (major >= 2) {
    bytes.push_back((n >> 16) & 0xff);
    bytes.push_back((n >> 24) & 0xff);
  }
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::string message_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_npy(bytes, "in.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, ReadsHandWrittenVersion1Uint8) {
  // Unpadded headers are accepted too: the alignment is a writer's courtesy.
  const auto bytes = hand_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }\n",
                              {0, 1, 2, 253, 254, 255});
  const NpyArray a = parse_npy(bytes, "hand.npy");
  EXPECT_EQ(a.dtype, NpyDType::UInt8);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.int_at(5), 255);
  EXPECT_EQ(a.int_at(3), 253);
}

TEST(Npy, ReadsVersions2And3AndOtherDictSpellings) {
  // Little-endian int32 -1 and 65536; double quotes, key order changed, no trailing comma.
  const std::vector<uint8_t> data = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00};
  for (uint8_t major : {2, 3}) {
    const auto a = parse_npy(
        hand_npy(major, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}   \n",
                 data),
        "v.npy");
    EXPECT_EQ(a.dtype, NpyDType::Int32);
    EXPECT_EQ(a.shape, std::vector<int64_t>{2});
    EXPECT_EQ(a.int_at(0), -1);
    EXPECT_EQ(a.int_at(1), 65536);
  }
}

TEST(Npy, ReadsInt8AndFloat32AndScalars) {
  const auto i8 =
      parse_npy(hand_npy(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1, 1, 2), }\n",
                         {0x80, 0x7f}),
                "i8.npy");
  EXPECT_EQ(i8.int_at(0), -128);
  EXPECT_EQ(i8.int_at(1), 127);
  // float32 1.5 = 0x3fc00000, little-endian; a 0-d array holds one element.
  const auto f = parse_npy(
      hand_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", {0, 0, 0xc0, 0x3f}),
      "f.npy");
  EXPECT_TRUE(f.shape.empty());
  EXPECT_EQ(f.element_count(), 1u);
  EXPECT_EQ(f.float_at(0), 1.5f);
}

TEST(Npy, WriterEmitsVersion1With64ByteAlignedHeader) {
  NpyArray a{NpyDType::Int8, {2, 1}, {0xfe, 0x05}};
  const auto bytes = to_npy_bytes(a);
  ASSERT_GE(bytes.size(), 12u);
  EXPECT_EQ(std::memcmp(bytes.data(), "\x93NUMPY\x01\x00", 8), 0);
  const size_t header_length = bytes[8] | (bytes[9] << 8);
  EXPECT_EQ((10 + header_length) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + header_length + 2);
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + header_length);
  EXPECT_EQ(header.rfind("{'descr': '|i1', 'fortran_order': False, 'shape': (2, 1), }", 0), 0u)
      << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes[bytes.size() - 2], 0xfe);
  EXPECT_EQ(bytes.back(), 0x05);
}

TEST(Npy, RoundTripsEveryDtypeAndRankThroughAFile) {
  const auto dir = test_support::temp_dir("npy_round_trip");
  const std::vector<NpyArray> arrays = {
      {NpyDType::UInt8, {2, 3}, {0, 1, 2, 3, 4, 255}},
      {NpyDType::Int8, {1}, {0x80}},
      {NpyDType::Int32, {1, 1, 1, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8}},
      {NpyDType::Float32, {}, {0, 0, 0x80, 0xbf}},
      {NpyDType::UInt8, {0, 4}, {}},
  };
  for (size_t i = 0; i < arrays.size(); ++i) {
    const std::string path = (dir / ("a" + std::to_string(i) + ".npy")).string();
    write_npy(arrays[i], path);
    EXPECT_EQ(read_npy(path), arrays[i]) << i;
  }
  // No temporary file is left beside the outputs.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, arrays.size());
}

TEST(Npy, ErrorsNameTheSourceAndTheProblem) {
  const std::string ok_header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }\n";
  struct Case {
    std::vector<uint8_t> bytes;
    std::string expected;
  };
  std::vector<Case> cases = {
      {{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}, "no \\x93NUMPY magic"},
      {hand_npy(4, ok_header, {1, 2}), "version 4.0"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2,), }\n", {1, 2}),
       "Fortran order"},
      {hand_npy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }\n", {0, 0, 0, 1}),
       "dtype '>i4'"},
      {hand_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n",
                std::vector<uint8_t>(8, 0)),
       "dtype '<f8'"},
      {hand_npy(1, ok_header, {1}), "data has 1 bytes, shape (2,) of uint8 needs 2"},
      {hand_npy(1, ok_header, {1, 2, 3}), "data has 3 bytes"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (-2,), }\n", {}),
       "non-negative integer"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999,), }\n",
                {}),
       "dimension too large"},
      {hand_npy(
           1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }\n",
           {}),
       "is too large"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", {1, 2}),
       "unexpected key 'x'"},
      {hand_npy(1, "{'descr': '|u1', 'shape': (2,), }\n", {1, 2}), "must have the keys"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), } junk\n", {1, 2}),
       "unexpected text"},
      {hand_npy(1, "{'descr': '|u1', 'fortran_order': Maybe, 'shape': (2,), }\n", {1, 2}),
       "True or False"},
  };
  // A header length beyond the limit, and one longer than the file.
  std::vector<uint8_t> huge = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0, 0x10};
  cases.push_back({huge, "longer than the limit"});
  std::vector<uint8_t> truncated = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x40, 0, '{'};
  cases.push_back({truncated, "truncated in its header"});
  cases.push_back({{0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 1}, "truncated in its preamble"});
  for (const auto& c : cases) {
    const std::string message = message_of(c.bytes);
    EXPECT_EQ(message.rfind("in.npy: ", 0), 0u) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "expected '" << c.expected << "' in: " << message;
  }
}

TEST(Npy, MissingFileIsAnErrorNamingIt) {
  try {
    read_npy("/nonexistent/dir/x.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/x.npy: no such file");
  }
  EXPECT_THROW(write_npy(NpyArray{NpyDType::UInt8, {1}, {0}}, "/nonexistent/dir/y.npy"), Error);
}

TEST(Npy, WriterRefusesInconsistentArrays) {
  EXPECT_THROW(to_npy_bytes(NpyArray{NpyDType::Int32, {2}, {1, 2, 3, 4}}), ShapeError);
}

TEST(Npy, BatchesFromFourAndTwoDimensionalArrays) {
  const NpyArray four{NpyDType::Int8, {2, 1, 1, 3}, {0xff, 1, 2, 3, 4, 0x80}};
  const Batch b = to_batch(four, Shape{1, 1, 3}, "x.npy");
  EXPECT_EQ(b.n, 2);
  EXPECT_EQ(b.shape, (Shape{1, 1, 3}));
  EXPECT_EQ(b.values, (std::vector<int32_t>{-1, 1, 2, 3, 4, -128}));
  NpyArray two = four;
  two.shape = {2, 3};
  EXPECT_EQ(to_batch(two, Shape{1, 1, 3}, "x.npy").values, b.values);
  // (N, C) only for 1x1xC samples; 3-D and mismatched shapes are refused with the expectation.
  try {
    to_batch(NpyArray{NpyDType::UInt8, {1, 4}, {1, 2, 3, 4}}, Shape{2, 2, 1}, "x.npy");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "x.npy: input shape (1, 4) does not fit the model, expected (N, 2, 2, 1)");
  }
  EXPECT_THROW(to_batch(NpyArray{NpyDType::UInt8, {1, 1, 3}, {1, 2, 3}}, Shape{1, 1, 3}, "x"),
               ShapeError);
  EXPECT_THROW(to_batch(NpyArray{NpyDType::Float32, {1, 1}, {0, 0, 0, 0}}, Shape{1, 1, 1}, "x"),
               ShapeError);
}

TEST(Npy, BatchesToArrays) {
  Batch b{2, Shape{1, 1, 1}, {-5, 70000}};
  const NpyArray a = to_npy(b);
  EXPECT_EQ(a.dtype, NpyDType::Int32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{0xfb, 0xff, 0xff, 0xff, 0x70, 0x11, 0x01, 0x00}));
  FloatBatch f{1, Shape{1, 1, 1}, {-1.0f}};
  EXPECT_EQ(to_npy(f).data, (std::vector<uint8_t>{0, 0, 0x80, 0xbf}));
}

}  // namespace
}  // namespace akida
