// Decoding ONNX initializers without trusting them: every dims product is bounded and checked
// against the bytes actually stored before anything is allocated from it.
#include <bit>
#include <cstring>
#include <sstream>

#include "cnn2snn/onnx/onnx_common.h"

namespace cnn2snn::onnx_reader {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; this reader copies it as is");

std::string Where::prefix() const {
  if (node_ == nullptr) return source_ + ": graph";
  return source_ + ": node '" + node_->name() + "' (" + node_->op_type() + ")";
}

const char* dtype_name(int32_t data_type) {
  using T = onnx::TensorProto;
  switch (data_type) {
    case T::FLOAT: return "float";
    case T::DOUBLE: return "double";
    case T::INT8: return "int8";
    case T::UINT8: return "uint8";
    case T::INT16: return "int16";
    case T::INT32: return "int32";
    case T::INT64: return "int64";
    default: return "other";
  }
}

namespace {

std::string dims_string(const onnx::TensorProto& t) {
  std::ostringstream s;
  s << "[";
  for (int i = 0; i < t.dims_size(); ++i) s << (i ? ", " : "") << t.dims(i);
  s << "]";
  return s.str();
}

size_t element_size(int32_t data_type) {
  using T = onnx::TensorProto;
  switch (data_type) {
    case T::INT8:
    case T::UINT8: return 1;
    case T::INT16: return 2;
    case T::FLOAT:
    case T::INT32: return 4;
    case T::DOUBLE:
    case T::INT64: return 8;
    default: return 0;
  }
}

// Element count of `t`, checked against the bytes or values it stores.
size_t checked_count(const onnx::TensorProto& t, const Where& where, const std::string& field) {
  std::vector<int64_t> dims = checked_dims(t, where, field);
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    where.fail<akida::UnsupportedError>(field + ": data stored in an external file");
  const size_t n = static_cast<size_t>(count);
  const std::string what = field + ": dims " + dims_string(t) + " of " + dtype_name(t.data_type());
  if (!t.raw_data().empty()) {
    const size_t need = n * element_size(t.data_type());
    if (t.raw_data().size() != need)
      where.fail(what + " need " + std::to_string(need) + " bytes, raw_data has " +
                 std::to_string(t.raw_data().size()));
    return n;
  }
  using T = onnx::TensorProto;
  size_t have = 0;
  switch (t.data_type()) {
    case T::INT8:
    case T::UINT8:
    case T::INT16:
    case T::INT32: have = t.int32_data_size(); break;
    case T::INT64: have = t.int64_data_size(); break;
    case T::FLOAT: have = t.float_data_size(); break;
    case T::DOUBLE: have = t.double_data_size(); break;
    default: break;
  }
  if (have != n)
    where.fail(what + " need " + std::to_string(n) + " values, the tensor stores " +
               std::to_string(have));
  return n;
}

template <typename V>
V raw_at(const std::string& raw, size_t i) {
  V v;
  std::memcpy(&v, raw.data() + i * sizeof(V), sizeof(V));
  return v;
}

int64_t int_at(const onnx::TensorProto& t, size_t i) {
  using T = onnx::TensorProto;
  const std::string& raw = t.raw_data();
  if (raw.empty()) {
    if (t.data_type() == T::INT64) return t.int64_data(static_cast<int>(i));
    // int32_data holds int8/uint8/int16 values widened; narrow them as ONNX specifies.
    const int32_t v = t.int32_data(static_cast<int>(i));
    switch (t.data_type()) {
      case T::INT8: return static_cast<int8_t>(v);
      case T::UINT8: return static_cast<uint8_t>(v);
      case T::INT16: return static_cast<int16_t>(v);
      default: return v;
    }
  }
  switch (t.data_type()) {
    case T::INT8: return raw_at<int8_t>(raw, i);
    case T::UINT8: return raw_at<uint8_t>(raw, i);
    case T::INT16: return raw_at<int16_t>(raw, i);
    case T::INT32: return raw_at<int32_t>(raw, i);
    default: return raw_at<int64_t>(raw, i);
  }
}

}  // namespace

std::vector<int64_t> checked_dims(const onnx::TensorProto& t, const Where& where,
                                  const std::string& field) {
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) where.fail(field + ": negative dimension in dims " + dims_string(t));
    if (d != 0 && count > kMaxElements / d)
      where.fail(field + ": dims " + dims_string(t) + " hold more than " +
                 std::to_string(kMaxElements) + " elements");
    count *= d;
    dims.push_back(d);
  }
  return dims;
}

IntTensor read_ints(const onnx::TensorProto& t, const Where& where, const std::string& field) {
  using T = onnx::TensorProto;
  switch (t.data_type()) {
    case T::INT8:
    case T::UINT8:
    case T::INT16:
    case T::INT32:
    case T::INT64: break;
    default:
      where.fail<akida::UnsupportedError>(field + ": dtype " + dtype_name(t.data_type()) +
                                          ", expected an integer type");
  }
  const size_t n = checked_count(t, where, field);
  IntTensor out;
  out.shape.assign(t.dims().begin(), t.dims().end());
  out.values.resize(n);
  for (size_t i = 0; i < n; ++i) out.values[i] = int_at(t, i);
  return out;
}

std::vector<double> read_floats(const onnx::TensorProto& t, const Where& where,
                                const std::string& field) {
  using T = onnx::TensorProto;
  if (t.data_type() != T::FLOAT && t.data_type() != T::DOUBLE)
    where.fail<akida::UnsupportedError>(field + ": dtype " + dtype_name(t.data_type()) +
                                        ", expected float");
  const size_t n = checked_count(t, where, field);
  std::vector<double> out(n);
  const bool is_float = t.data_type() == T::FLOAT;
  for (size_t i = 0; i < n; ++i) {
    if (!t.raw_data().empty())
      out[i] = is_float ? raw_at<float>(t.raw_data(), i) : raw_at<double>(t.raw_data(), i);
    else
      out[i] = is_float ? t.float_data(static_cast<int>(i)) : t.double_data(static_cast<int>(i));
  }
  return out;
}

}  // namespace cnn2snn::onnx_reader
