#include "akida/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "akida/errors.h"

namespace akida {
namespace {

// ---- temporary files a signal handler may have to remove ----
// A signal handler may only call async-signal-safe functions: it reads these fixed buffers
// (no allocation, no lock) and calls unlink(). A slot is Free, being Filled by a writer, or Ready.
enum SlotState : int { kFree, kFilling, kReady };
constexpr size_t kSlots = 8;
constexpr size_t kMaxPathBytes = 4096;
struct PendingFile {
  std::atomic<int> state{kFree};
  char path[kMaxPathBytes];
};
PendingFile pending_files[kSlots];

// Registers `path` for removal on a signal; returns the slot, or -1 when every slot is taken
// (the file is then only removed on errors, not on signals).
int register_pending(const std::string& path) {
  if (path.size() >= kMaxPathBytes) return -1;
  for (size_t i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!pending_files[i].state.compare_exchange_strong(expected, kFilling)) continue;
    std::memcpy(pending_files[i].path, path.c_str(), path.size() + 1);
    pending_files[i].state.store(kReady);
    return static_cast<int>(i);
  }
  return -1;
}

void unregister_pending(int slot) {
  if (slot >= 0) pending_files[slot].state.store(kFree);
}

// Installed with SA_RESETHAND: the default action is back, and the signal raised again ends the
// process as it would have without this handler once the handler returns.
extern "C" void remove_pending_and_reraise(int signal_number) {
  for (auto& pending : pending_files)
    if (pending.state.load() == kReady) ::unlink(pending.path);
  std::raise(signal_number);
}

// ---- writing ----
// Owns the temporary file until it is renamed: removes it (and forgets it) otherwise.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& target) : target_(target) { create(); }
  ~TemporaryFile() { abandon(); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(std::span<const uint8_t> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write the temporary file " + path_, errno);
      done += static_cast<size_t>(n);
    }
  }

  // Flushes, closes and renames over the target.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush the temporary file " + path_, errno);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("cannot close the temporary file " + path_, errno);
    if (::rename(path_.c_str(), target_.c_str()) != 0)
      fail("cannot replace the file with " + path_, errno);
    path_.clear();  // renamed: nothing left to remove
    unregister_pending(std::exchange(slot_, -1));
  }

 private:
  [[noreturn]] void fail(const std::string& what, int error) const {
    throw Error(target_ + ": " + what + ": " + std::strerror(error));
  }

  void abandon() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
    unregister_pending(std::exchange(slot_, -1));
  }

  void create() {
    const std::filesystem::path target(target_);
    const std::string prefix =
        (target.parent_path() / ("." + target.filename().string() + ".tmp-")).string() +
        std::to_string(::getpid()) + "-";
    std::random_device entropy;
    std::string candidate;
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      candidate = prefix + std::to_string(entropy());
      fd_ = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST)
        fail("cannot create a temporary file beside it (" + candidate + ")", errno);
    }
    if (fd_ < 0) fail("cannot find a free temporary file name beside it", EEXIST);
    path_ = candidate;
    slot_ = register_pending(path_);
    // A replaced file keeps its permission bits; O_CREAT's 0666 minus the umask otherwise.
    struct stat existing {};
    if (::stat(target_.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) &&
        ::fchmod(fd_, existing.st_mode & 07777) != 0) {
      const int error = errno;
      abandon();  // the destructor does not run when the constructor throws
      fail("cannot set the permissions of " + candidate, error);
    }
  }

  std::string target_;
  std::string path_;  // the temporary file while it exists and is ours
  int fd_ = -1;
  int slot_ = -1;
};

}  // namespace

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  TemporaryFile temporary(path);
  const char* stop = std::getenv(kStopMidWriteVariable);
  if (stop != nullptr && *stop != '\0') {
    const size_t half = bytes.size() / 2;
    temporary.write(bytes.first(half));
    std::raise(SIGSTOP);
    temporary.write(bytes.subspan(half));
  } else {
    temporary.write(bytes);
  }
  temporary.commit();
}

void remove_partial_writes_on_signals() {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction previous {};
    ::sigaction(signal_number, nullptr, &previous);
    if (previous.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup stays ignored
    struct sigaction action {};
    action.sa_handler = remove_pending_and_reraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(signal_number, &action, nullptr);
  }
}

}  // namespace akida
