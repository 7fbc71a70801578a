#include "cnn2snn/keras/hdf5_direct.h"

#include <hdf5.h>

#include <array>
#include <atomic>
#include <cstring>

#include "akida/errors.h"

namespace cnn2snn::keras {
namespace {

// hid_t is int64_t in HDF5 >= 1.10; the static_assert keeps the Closer signature honest.
static_assert(sizeof(hid_t) == sizeof(int64_t));

// H5Handle::Closer is spelled without <hdf5.h>; this checks it is exactly herr_t (*)(hid_t).
H5Handle handle(hid_t id, herr_t (*closer)(hid_t)) { return H5Handle(id, closer); }

// HDF5's core driver refuses to open an image under the name of an existing file, and treats two
// open images of the same name as one file: each image gets a fresh name in a folder that cannot
// exist (/dev/null is not a directory).
std::string unique_image_name() {
  static std::atomic<uint64_t> counter{0};
  return "/dev/null/cnn2snn-hdf5-image-" + std::to_string(counter++);
}

// A memory type for reading variable-length strings stored as `file_type`. The character set must
// be the file's: HDF5 does not convert between ASCII and UTF-8, and h5py writes Python str
// attributes as UTF-8 (Keras writes ASCII bytes).
H5Handle variable_string_type(hid_t file_type) {
  H5Handle mem = handle(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), H5T_VARIABLE);
  H5Tset_cset(mem.get(), H5Tget_cset(file_type));
  return mem;
}

}  // namespace

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

void H5Handle::reset() {
  if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  id_ = -1;
}

// Initializing the library allocates and fills its tables (free lists, type and property
// lists): done once here, each child starts with it done instead of redoing it (a third of the
// cost of a child that reads a small file). No file is read: a crash stays in the children.
void initialize_hdf5_library() {
  static const bool initialized = [] {
    H5open();
    // HDF5 prints its error stack on stderr by default; our errors say what went wrong instead.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)initialized;
}

DirectHdf5File::DirectHdf5File(const std::string& path, uint64_t file_bytes)
    : path_(path), budget_(path, file_bytes) {
  initialize_hdf5_library();
  file_ = handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  refuse_unopened();
}

DirectHdf5File::DirectHdf5File(std::span<const uint8_t> image, const std::string& source)
    : path_(source), budget_(source, image.size()) {
  initialize_hdf5_library();
  H5Handle access = handle(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  constexpr size_t kGrowth = 1 << 16;  // unused: the image is opened read-only
  if (H5Pset_fapl_core(access.get(), kGrowth, /*backing_store=*/false) < 0 ||
      H5Pset_file_image(access.get(), const_cast<uint8_t*>(image.data()), image.size()) < 0)
    throw akida::FormatError(source + ": the HDF5 library cannot take the file image");
  file_ = handle(H5Fopen(unique_image_name().c_str(), H5F_ACC_RDONLY, access.get()), H5Fclose);
  refuse_unopened();
}

// The fixed-length or variable-length string held by an attribute of string type `type`.
std::string DirectHdf5File::read_scalar_string(hid_t attribute, hid_t type, const std::string& object,
                                         const std::string& name) const {
  const std::string what = "attribute '" + name + "'";
  if (H5Tis_variable_str(type) > 0) {
    H5Handle mem = variable_string_type(type);
    char* text = nullptr;
    if (H5Aread(attribute, mem.get(), &text) < 0 || text == nullptr) return {};
    std::string value(text);
    H5free_memory(text);
    budget_.spend(object, what, value.size());
    return value;
  }
  const size_t size = H5Tget_size(type);
  budget_.spend(object, what, size);
  std::string value(size, '\0');
  if (H5Aread(attribute, type, value.data()) < 0) return {};
  value.resize(std::strlen(value.c_str()));  // fixed strings may be NUL-padded
  return value;
}

void DirectHdf5File::refuse_unopened() const {
  if (!file_.valid())
    throw akida::FormatError(path_ + ": the HDF5 library cannot open the file (truncated or "
                                     "corrupt)");
}

void DirectHdf5File::fail(const std::string& object, const std::string& message) const {
  throw akida::FormatError(path_ + ": HDF5 object '" + object + "': " + message);
}

bool DirectHdf5File::exists(const std::string& object) const {
  if (object == "/") return true;
  // H5Lexists needs every intermediate group to exist: walk the path one link at a time.
  std::string prefix;
  size_t start = object[0] == '/' ? 1 : 0;
  while (start <= object.size()) {
    const size_t slash = object.find('/', start);
    prefix += "/" + object.substr(start, slash - start);
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return H5Oexists_by_name(file_.get(), object.c_str(), H5P_DEFAULT) > 0;
}

std::optional<DirectHdf5File::Attribute> DirectHdf5File::open_attribute(
    const std::string& object, const std::string& name) const {
  if (!exists(object) || H5Aexists_by_name(file_.get(), object.c_str(), name.c_str(),
                                           H5P_DEFAULT) <= 0)
    return std::nullopt;
  H5Handle attr = handle(H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT,
                                         H5P_DEFAULT),
                         H5Aclose);
  if (!attr.valid()) fail(object, "attribute '" + name + "' cannot be opened");
  H5Handle type = handle(H5Aget_type(attr.get()), H5Tclose);
  H5Handle space = handle(H5Aget_space(attr.get()), H5Sclose);
  return Attribute{std::move(attr), std::move(type), std::move(space)};
}

std::optional<std::string> DirectHdf5File::string_attribute(const std::string& object,
                                                      const std::string& name) const {
  auto attribute = open_attribute(object, name);
  if (!attribute) return std::nullopt;
  const H5Handle& attr = attribute->attr;
  const H5Handle& type = attribute->type;
  const H5Handle& space = attribute->space;
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1)
    fail(object, "attribute '" + name + "' is not a scalar string");
  return read_scalar_string(attr.get(), type.get(), object, name);
}

std::optional<std::vector<std::string>> DirectHdf5File::string_list_attribute(
    const std::string& object, const std::string& name) const {
  auto attribute = open_attribute(object, name);
  if (!attribute) return std::nullopt;
  const H5Handle& attr = attribute->attr;
  const H5Handle& type = attribute->type;
  const H5Handle& space = attribute->space;
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0 || count > kMaxHdf5ListSize) fail(object, "attribute '" + name + "' has a bad size");
  if (count == 0) return std::vector<std::string>{};  // Keras writes np.asarray([]) for "none"
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail(object, "attribute '" + name + "' is not an array of strings");
  std::vector<std::string> values;
  const std::string what = "attribute '" + name + "'";
  if (H5Tis_variable_str(type.get()) > 0) {
    budget_.spend(object, what, static_cast<uint64_t>(count) * sizeof(char*));
    H5Handle mem = variable_string_type(type.get());
    std::vector<char*> texts(static_cast<size_t>(count), nullptr);
    if (H5Aread(attr.get(), mem.get(), texts.data()) < 0)
      fail(object, "attribute '" + name + "' cannot be read");
    for (char* text : texts) values.emplace_back(text ? text : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, texts.data());
  } else {
    const size_t size = H5Tget_size(type.get());
    budget_.spend(object, what, static_cast<uint64_t>(size) * static_cast<uint64_t>(count));
    std::vector<char> buffer(size * static_cast<size_t>(count) + 1, '\0');
    if (H5Aread(attr.get(), type.get(), buffer.data()) < 0)
      fail(object, "attribute '" + name + "' cannot be read");
    for (hssize_t i = 0; i < count; ++i) {
      std::string text(buffer.data() + static_cast<size_t>(i) * size, size);
      values.push_back(text.substr(0, text.find('\0')));
    }
  }
  return values;
}

FloatArray DirectHdf5File::float_dataset(const std::string& object) const {
  if (!exists(object)) fail(object, "dataset is missing");
  H5Handle set = handle(H5Dopen2(file_.get(), object.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) fail(object, "is not a dataset");
  H5Handle type = handle(H5Dget_type(set.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) fail(object, "dataset is not floating-point");
  H5Handle space = handle(H5Dget_space(set.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > kMaxHdf5Rank) fail(object, "dataset has an unsupported rank");
  std::vector<hsize_t> hdf5_dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), hdf5_dims.data(), nullptr);
  const std::vector<uint64_t> dims(hdf5_dims.begin(), hdf5_dims.end());
  const auto count = hdf5_element_count(dims);
  if (!count) fail(object, "dataset is unreasonably large");
  FloatArray array;
  array.shape.assign(dims.begin(), dims.end());
  budget_.spend(object, "dataset", static_cast<uint64_t>(*count) * sizeof(float));
  array.values.resize(static_cast<size_t>(*count));
  if (*count > 0 &&
      H5Dread(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, array.values.data()) < 0)
    fail(object, "dataset cannot be read (truncated file?)");
  return array;
}

}  // namespace cnn2snn::keras
