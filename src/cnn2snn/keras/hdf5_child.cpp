#include "cnn2snn/keras/hdf5_child.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "akida/errors.h"
#include "cnn2snn/keras/hdf5_direct.h"

// Set by the sanitizers' runtimes (absent otherwise): libFuzzer registers a callback there that
// saves the current input as a crash; a crash in the child is not one (the parent handles it).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace cnn2snn::keras {
namespace {

// Keeps the child's stderr (libhdf5's or a sanitizer's report of its crash) for debugging; by
// default it goes to /dev/null, as the parent's error says what happened.
constexpr const char* kKeepStderrVariable = "CNN2SNN_HDF5_CHILD_STDERR";
constexpr const char* kTimeoutVariable = "CNN2SNN_HDF5_TIMEOUT";
constexpr int kDefaultTimeoutSeconds = 60;
// The child's address space may grow by the file's size (the core driver copies an image), the
// read budget and this much for libhdf5's own structures (caches of a few MB); anything more is
// a size field gone wild, and the allocation fails in the child instead of taking the machine.
constexpr uint64_t kChildMemoryHeadroom = uint64_t{128} << 20;
// The longest error message the parent takes from the child.
constexpr uint64_t kMaxMessage = uint64_t{1} << 20;

// ---- both sides ----------------------------------------------------------------------------

// Writes all of `data`; false when the other side is gone. MSG_NOSIGNAL: a dead peer must not
// kill the writer with SIGPIPE.
bool write_all(int socket, const void* data, size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = send(socket, bytes, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A message being built: fixed-size integers in the machine's order (both sides are one binary)
// and length-prefixed strings.
class Message {
 public:
  void u8(uint8_t value) { bytes_.push_back(static_cast<char>(value)); }
  void u64(uint64_t value) { bytes_.append(reinterpret_cast<const char*>(&value), sizeof value); }
  void string(const std::string& text) {
    u64(text.size());
    bytes_ += text;
  }
  bool send_to(int socket) const { return write_all(socket, bytes_.data(), bytes_.size()); }

 private:
  std::string bytes_;
};

// ---- the child -----------------------------------------------------------------------------

// The child has nothing to do once the parent is gone or out of step.
[[noreturn]] void quit() { _exit(0); }

// Reads exactly `size` bytes, blocking (the parent keeps the time); quits at the end of input.
void child_read(int socket, void* data, size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(socket, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) quit();
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

uint64_t child_read_u64(int socket) {
  uint64_t value = 0;
  child_read(socket, &value, sizeof value);
  return value;
}

std::string child_read_string(int socket) {
  const uint64_t size = child_read_u64(socket);
  if (size > kMaxMessage) quit();
  std::string text(size, '\0');
  child_read(socket, text.data(), size);
  return text;
}

// Makes the forked copy of the parent a process of its own: it dies with the parent, runs no
// handler of the parent's (a CLI's cleanup, libFuzzer's crash reporting: a crash here must end
// the child only), holds no descriptor but its socket and stays quiet.
void become_own_process(int socket, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) quit();  // the parent died before prctl
  for (int signal_number = 1; signal_number < NSIG; ++signal_number)
    if (signal_number != SIGKILL && signal_number != SIGSTOP) std::signal(signal_number, SIG_DFL);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(nullptr);
  // Other children's sockets would keep them alive past their parent's close.
  if (socket > 3) close_range(3, static_cast<unsigned>(socket) - 1, 0);
  close_range(static_cast<unsigned>(socket) + 1, ~0U, 0);
  const int null = open("/dev/null", O_WRONLY);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    const char* keep = std::getenv(kKeepStderrVariable);
    if (keep == nullptr || *keep == '\0') dup2(null, STDERR_FILENO);
    close(null);
  }
}

// The child cannot take much more memory than the file justifies: a size field gone wild makes
// an allocation fail there instead of taking the machine.
void limit_memory(uint64_t file_bytes) {
  uint64_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;  // the address space's size now, in pages
  const uint64_t budget = Hdf5Budget::kPerFileByte * file_bytes + Hdf5Budget::kSlack;
  const uint64_t limit = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) + file_bytes +
                         budget + kChildMemoryHeadroom;
  rlimit address_space{};
  if (pages == 0 || getrlimit(RLIMIT_AS, &address_space) != 0) return;
  // A reused child sets it again for each file, never above the limit it was forked with.
  static const rlim_t inherited = address_space.rlim_cur;
  address_space.rlim_cur = std::min<rlim_t>(limit, inherited);
  setrlimit(RLIMIT_AS, &address_space);
}

DirectHdf5File open_target(const Hdf5Target& target, const std::string& source,
                           uint64_t file_bytes) {
  return target.path.empty() ? DirectHdf5File(target.image, source)
                             : DirectHdf5File(target.path, file_bytes);
}

void put_value(Message& out, const std::vector<std::string>& list) {
  out.u64(list.size());
  for (const std::string& text : list) out.string(text);
}

// Answers one request into `out`; the float values of a dataset, the only large part, are sent
// straight from the array after `out`.
void answer(const DirectHdf5File& file, Hdf5Request request, const std::string& object,
            const std::string& name, Message& out, std::optional<FloatArray>& dataset) {
  const auto put_optional = [&out](const auto& value) {
    if (!value) return out.u8(static_cast<uint8_t>(Hdf5Answer::kAbsent));
    out.u8(static_cast<uint8_t>(Hdf5Answer::kValue));
    if constexpr (std::is_same_v<std::decay_t<decltype(*value)>, std::string>)
      out.string(*value);
    else
      put_value(out, *value);
  };
  switch (request) {
    case Hdf5Request::kExists: {
      const bool exists = file.exists(object);
      out.u8(static_cast<uint8_t>(Hdf5Answer::kValue));
      return out.u64(exists ? 1 : 0);
    }
    case Hdf5Request::kStringAttribute: return put_optional(file.string_attribute(object, name));
    case Hdf5Request::kStringListAttribute:
      return put_optional(file.string_list_attribute(object, name));
    case Hdf5Request::kFloatDataset: {
      dataset = file.float_dataset(object);
      out.u8(static_cast<uint8_t>(Hdf5Answer::kValue));
      out.u64(dataset->shape.size());
      for (int64_t dim : dataset->shape) out.u64(static_cast<uint64_t>(dim));
      return;
    }
    case Hdf5Request::kOpen: break;  // serve() handles it
  }
  quit();  // not a request: the parent is out of step
}

void send_error(int socket, const std::string& message) {
  Message out;
  out.u8(static_cast<uint8_t>(Hdf5Answer::kError));
  out.string(message.substr(0, kMaxMessage));
  if (!out.send_to(socket)) quit();
}

// Opens the file, says whether that worked, then answers requests until the parent closes the
// socket (or kills the child).
// Opens the file `open` gives in place of the current one, and says whether that worked (a
// failure is an error answer; the child stays for the next request).
void open_file(int socket, std::optional<DirectHdf5File>& file,
               const std::function<DirectHdf5File()>& open) {
  file.reset();
  try {
    file.emplace(open());
  } catch (const std::exception& e) {
    return send_error(socket, e.what());
  }
  Message opened;
  opened.u8(static_cast<uint8_t>(Hdf5Answer::kValue));
  if (!opened.send_to(socket)) quit();
}

// A kOpen request after its object (the path) and name (the source): the file's size and image.
// The image comes from the same program, so its size is not bounded like a message.
void open_requested(int socket, const std::string& path, const std::string& source,
                    std::optional<DirectHdf5File>& file) {
  const uint64_t file_bytes = child_read_u64(socket);
  std::vector<uint8_t> image(child_read_u64(socket));
  child_read(socket, image.data(), image.size());
  file.reset();  // its memory first
  limit_memory(file_bytes);
  open_file(socket, file, [&] { return open_target({path, image}, source, file_bytes); });
}

// Opens the file, says whether that worked, then answers requests until the parent closes the
// socket (or kills the child). A kOpen request (a reused child) opens another file.
void serve(int socket, const std::function<DirectHdf5File()>& open) {
  std::optional<DirectHdf5File> file;
  open_file(socket, file, open);
  for (;;) {
    uint8_t request = 0;
    child_read(socket, &request, 1);
    const std::string object = child_read_string(socket);
    const std::string name = child_read_string(socket);
    if (request == static_cast<uint8_t>(Hdf5Request::kOpen)) {
      open_requested(socket, object, name, file);
      continue;
    }
    if (!file) quit();  // the parent asks of a file that did not open: out of step
    Message out;
    std::optional<FloatArray> dataset;
    try {
      answer(*file, static_cast<Hdf5Request>(request), object, name, out, dataset);
    } catch (const std::exception& e) {
      send_error(socket, e.what());
      continue;
    }
    if (!out.send_to(socket)) quit();
    if (dataset && !write_all(socket, dataset->values.data(),
                              dataset->values.size() * sizeof(float)))
      quit();
  }
}

// The child's whole life: it never returns into the parent's code (no unwinding through frames
// that belong to the parent's copy), whatever happens.
[[noreturn]] void run_child(int socket, pid_t parent, uint64_t file_bytes,
                            const std::function<DirectHdf5File()>& open) noexcept {
  try {
    become_own_process(socket, parent);
    limit_memory(file_bytes);
    serve(socket, open);
  } catch (...) {
  }
  quit();
}

// ---- the fork server -----------------------------------------------------------------------

// What the caller asks the server (the first byte of a request).
enum class ServerRequest : uint8_t { kSpawn = 1, kReap = 2 };

// A one-byte message with room for one descriptor (SCM_RIGHTS: the receiver gets its own copy).
struct ByteWithDescriptor {
  explicit ByteWithDescriptor(uint8_t& byte) : part{&byte, 1} {
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
  }
  ByteWithDescriptor(const ByteWithDescriptor&) = delete;
  ByteWithDescriptor& operator=(const ByteWithDescriptor&) = delete;

  iovec part;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
};

bool send_with_descriptor(int socket, uint8_t byte, int descriptor) {
  ByteWithDescriptor out(byte);
  cmsghdr* header = CMSG_FIRSTHDR(&out.message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &descriptor, sizeof(int));
  ssize_t n;
  do n = sendmsg(socket, &out.message, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1;
}

// Reads one byte and the descriptor sent with it (-1 when none came); quits at the end of input.
int receive_with_descriptor(int socket, uint8_t& byte) {
  ByteWithDescriptor in(byte);
  ssize_t n;
  do n = recvmsg(socket, &in.message, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0) quit();
  const cmsghdr* header = CMSG_FIRSTHDR(&in.message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return -1;
  int descriptor = -1;
  std::memcpy(&descriptor, CMSG_DATA(header), sizeof(int));
  return descriptor;
}

// A spawn request after its first byte: the file's size, its source, the path and the image.
// The image comes from the same program, so its size is not bounded like a message.
void spawn_child(int control, int child_socket) {
  const uint64_t file_bytes = child_read_u64(control);
  const std::string source = child_read_string(control);
  Hdf5Target target;
  target.path = child_read_string(control);
  std::vector<uint8_t> image(child_read_u64(control));
  child_read(control, image.data(), image.size());
  target.image = image;
  const pid_t server = getpid();
  const pid_t child = child_socket >= 0 ? fork() : -1;
  if (child == 0) {
    close(control);
    run_child(child_socket, server, file_bytes,
              [&] { return open_target(target, source, file_bytes); });
  }
  if (child_socket >= 0) close(child_socket);
  Message answer;
  answer.u64(static_cast<uint64_t>(static_cast<int64_t>(child)));
  if (!answer.send_to(control)) quit();
}

void reap_child(int control) {
  const auto child = static_cast<pid_t>(child_read_u64(control));
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  Message answer;
  answer.u64(static_cast<uint64_t>(status));
  if (!answer.send_to(control)) quit();
}

// The server's whole life: requests until its creator closes the socket (or dies).
[[noreturn]] void run_server(int control, pid_t parent) noexcept {
  try {
    become_own_process(control, parent);
    for (;;) {
      uint8_t request = 0;
      const int descriptor = receive_with_descriptor(control, request);
      if (request == static_cast<uint8_t>(ServerRequest::kSpawn))
        spawn_child(control, descriptor);
      else if (request == static_cast<uint8_t>(ServerRequest::kReap))
        reap_child(control);
      else
        quit();  // out of step
    }
  } catch (...) {
  }
  quit();
}

// ---- the parent ----------------------------------------------------------------------------

// "SIGSEGV" for a signal, "exit status 1" (e.g. a sanitizer's report) for an exit.
std::string describe_end(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return name ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(status));
  }
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "an unknown end";
}

}  // namespace

int hdf5_child_timeout_seconds() {
  const char* value = std::getenv(kTimeoutVariable);
  if (value == nullptr) return kDefaultTimeoutSeconds;
  const long seconds = std::strtol(value, nullptr, 10);
  return seconds > 0 && seconds <= 86400 ? static_cast<int>(seconds) : kDefaultTimeoutSeconds;
}

// ---- Hdf5ForkServer ------------------------------------------------------------------------

namespace {

[[noreturn]] void cannot_start(const std::string& source, const std::string& why) {
  throw akida::FormatError(source + ": cannot start the HDF5 reader process: " + why);
}

// Reads exactly `size` bytes of the server's answer; false when the server is gone.
bool read_from_server(int socket, void* data, size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(socket, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::unique_ptr<Hdf5ForkServer>& process_server() {
  static std::unique_ptr<Hdf5ForkServer> server;
  return server;
}

}  // namespace

Hdf5ForkServer::Hdf5ForkServer() {
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
    cannot_start("the HDF5 fork server", std::strerror(errno));
  initialize_hdf5_library();
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    close(sockets[0]);
    run_server(sockets[1], parent);
  }
  close(sockets[1]);
  if (pid_ < 0) {
    close(sockets[0]);
    cannot_start("the HDF5 fork server", std::strerror(errno));
  }
  socket_ = sockets[0];
}

Hdf5ForkServer::~Hdf5ForkServer() {
  if (idle_.pid > 0) stop(idle_);
  close(socket_);  // the server quits at the end of its input
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void Hdf5ForkServer::start_for_process() {
  if (!process_server()) process_server() = std::make_unique<Hdf5ForkServer>();
}

Hdf5ForkServer* Hdf5ForkServer::for_process() { return process_server().get(); }

pid_t Hdf5ForkServer::spawn(int child_socket, uint64_t file_bytes, const std::string& source,
                            const Hdf5Target& target) {
  const std::lock_guard lock(mutex_);
  Message request;
  request.u64(file_bytes);
  request.string(source);
  request.string(target.path);
  request.u64(target.image.size());
  int64_t child = -1;
  const bool sent =
      send_with_descriptor(socket_, static_cast<uint8_t>(ServerRequest::kSpawn), child_socket) &&
      request.send_to(socket_) &&
      write_all(socket_, target.image.data(), target.image.size());
  if (!sent || !read_from_server(socket_, &child, sizeof child))
    cannot_start(source, "the HDF5 fork server is gone");
  if (child <= 0) cannot_start(source, "the HDF5 fork server could not fork");
  return static_cast<pid_t>(child);
}

int Hdf5ForkServer::reap(pid_t child) {
  const std::lock_guard lock(mutex_);
  Message request;
  request.u8(static_cast<uint8_t>(ServerRequest::kReap));
  request.u64(static_cast<uint64_t>(child));
  uint64_t status = 0;
  if (!request.send_to(socket_) || !read_from_server(socket_, &status, sizeof status)) return 0;
  return static_cast<int>(status);
}

Hdf5ForkServer::Child Hdf5ForkServer::take_idle() {
  const std::lock_guard lock(mutex_);
  return std::exchange(idle_, Child{});
}

void Hdf5ForkServer::keep_idle(Child child) {
  Child before;
  {
    const std::lock_guard lock(mutex_);
    before = std::exchange(idle_, child);
  }
  if (before.pid > 0) stop(before);
}

void Hdf5ForkServer::stop(Child child) {
  kill(child.pid, SIGKILL);
  reap(child.pid);
  close(child.socket);
}

// ---- Hdf5Child -----------------------------------------------------------------------------

Hdf5Child::Hdf5Child(const std::string& source, uint64_t file_bytes,
                     const std::function<DirectHdf5File()>& open)
    : source_(source), timeout_ms_(hdf5_child_timeout_seconds() * 1000) {
  socket_ = fork_here(file_bytes, open);
  await_opened();
}

Hdf5Child::Hdf5Child(const std::string& source, uint64_t file_bytes, const Hdf5Target& target,
                     Hdf5ForkServer* server)
    : source_(source), timeout_ms_(hdf5_child_timeout_seconds() * 1000) {
  if (server == nullptr) {
    socket_ = fork_here(file_bytes, [&] { return open_target(target, source, file_bytes); });
  } else if (!reuse_idle_child(*server, file_bytes, source, target)) {
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
      cannot_start(source, std::strerror(errno));
    try {
      pid_ = server->spawn(sockets[1], file_bytes, source, target);
    } catch (...) {
      close(sockets[0]);
      close(sockets[1]);
      throw;
    }
    close(sockets[1]);
    socket_ = sockets[0];
    server_ = server;
  }
  await_opened();
}

int Hdf5Child::fork_here(uint64_t file_bytes, const std::function<DirectHdf5File()>& open) {
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
    cannot_start(source_, std::strerror(errno));
  initialize_hdf5_library();
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    close(sockets[0]);
    run_child(sockets[1], parent, file_bytes, open);
  }
  close(sockets[1]);
  if (pid_ < 0) {
    close(sockets[0]);
    cannot_start(source_, std::strerror(errno));
  }
  return sockets[0];
}

bool Hdf5Child::reuse_idle_child(Hdf5ForkServer& server, uint64_t file_bytes,
                                 const std::string& source, const Hdf5Target& target) {
  const Hdf5ForkServer::Child idle = server.take_idle();
  if (idle.pid <= 0) return false;
  pid_ = idle.pid;
  socket_ = idle.socket;
  server_ = &server;
  Message request;
  request.u8(static_cast<uint8_t>(Hdf5Request::kOpen));
  request.string(target.path);
  request.string(source);
  request.u64(file_bytes);
  request.u64(target.image.size());
  if (request.send_to(socket_) && write_all(socket_, target.image.data(), target.image.size()))
    return true;
  stop();  // it died while idle
  return false;
}

void Hdf5Child::await_opened() {
  try {
    deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms_);
    read_answer();
  } catch (...) {
    release();
    throw;
  }
}

void Hdf5Child::release() {
  if (server_ != nullptr && pid_ > 0 && failure_.empty()) {
    server_->keep_idle({pid_, socket_});
    pid_ = -1;
    socket_ = -1;
    return;
  }
  stop();
}

Hdf5Child::~Hdf5Child() { release(); }

int Hdf5Child::stop() {
  int status = 0;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    if (server_ != nullptr)
      status = server_->reap(pid_);
    else
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    pid_ = -1;
  }
  if (socket_ >= 0) close(socket_);
  socket_ = -1;
  return status;
}

void Hdf5Child::fail(const std::string& what_happened) {
  failure_ = source_ + ": the HDF5 library " + what_happened + " " + reading_ +
             ": the file is corrupt";
  throw akida::FormatError(failure_);
}

void Hdf5Child::abandon(const std::string& error) {
  stop();
  if (failure_.empty()) failure_ = error;
}

Hdf5Answer Hdf5Child::ask(Hdf5Request request, const std::string& object,
                          const std::string& name, const std::string& reading) {
  if (!failure_.empty()) throw akida::FormatError(failure_);
  reading_ = reading;
  deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  Message out;
  out.u8(static_cast<uint8_t>(request));
  out.string(object);
  out.string(name);
  if (!out.send_to(socket_)) read_answer();  // the child is gone: says how it ended
  return read_answer();
}

Hdf5Answer Hdf5Child::read_answer() {
  uint8_t first = 0;
  read_bytes(&first, 1);
  const auto answer = static_cast<Hdf5Answer>(first);
  if (answer == Hdf5Answer::kValue || answer == Hdf5Answer::kAbsent) return answer;
  const auto malformed = [this] {
    stop();
    fail("sent a malformed answer");
  };
  if (answer != Hdf5Answer::kError) malformed();
  const uint64_t size = read_u64();
  if (size > kMaxMessage) malformed();
  std::string message(size, '\0');
  read_bytes(message.data(), size);
  throw akida::FormatError(message);
}

uint64_t Hdf5Child::read_u64() {
  uint64_t value = 0;
  read_bytes(&value, sizeof value);
  return value;
}

void Hdf5Child::read_bytes(void* data, size_t size) {
  if (!failure_.empty()) throw akida::FormatError(failure_);
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ -
                                                                             Clock::now());
    pollfd ready{socket_, POLLIN, 0};
    const int polled = left.count() > 0 ? poll(&ready, 1, static_cast<int>(left.count())) : 0;
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) {
      stop();
      fail("did not answer within " + std::to_string(timeout_ms_ / 1000) + " s (" +
           kTimeoutVariable + ")");
    }
    const ssize_t n = polled > 0 ? read(socket_, bytes, size) : -1;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("crashed (" + describe_end(stop()) + ")");
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace cnn2snn::keras
