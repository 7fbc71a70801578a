// A forked child process that runs libhdf5 on one file and answers the reads of Hdf5File over a
// socket. Debian's libhdf5 1.10 crashes, overflows buffers, asks for terabytes or loops on some
// corrupt files; in the child those take only the child down, and the parent turns them into an
// akida::FormatError naming the file and the object being read. The child is forked without
// exec (nothing to find on disk, works from the Python package too) and calls only libhdf5 and
// plain C++ (hdf5_direct.h). The parent only initializes the library once (no file is read), so
// that each child starts with that done.
#pragma once

//
// A fork server (Hdf5ForkServer) may fork the children instead: a process forked once, early,
// while the caller is still small. Forking a large process (a fuzzer with its ASan shadow and
// corpus) costs tens of milliseconds of page-table copying and page faults per file; forking
// the small server costs a fraction of that. What the child does is the same either way.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>

namespace cnn2snn::keras {

class DirectHdf5File;

// What a child opens: the file at `path`, or, when `path` is empty, the file image `image`.
struct Hdf5Target {
  std::string path;
  std::span<const uint8_t> image;
};

// A process that forks HDF5 children on request (spawn) and reaps them (reap), so that they
// are forked from its small address space rather than the caller's. It dies with its creator.
// It also keeps one child that finished a file in step (an idle child): the next file is opened
// in that child (Hdf5Request::kOpen) instead of a new one, until a child crashes, hangs or is
// abandoned midway; those are stopped and replaced.
class Hdf5ForkServer {
 public:
  // Forks the server now (libhdf5 initialized first, so every child starts with that done).
  // Throws akida::Error when it cannot.
  Hdf5ForkServer();
  // Stops the idle child, ends the server (its other children must have been reaped) and reaps
  // it.
  ~Hdf5ForkServer();
  Hdf5ForkServer(const Hdf5ForkServer&) = delete;
  Hdf5ForkServer& operator=(const Hdf5ForkServer&) = delete;

  // Starts the process-wide server that Hdf5File's children are then forked by (later calls do
  // nothing). For long-lived large processes that open many files: the fuzzer calls it first.
  static void start_for_process();
  // The process-wide server, or nullptr when none was started.
  static Hdf5ForkServer* for_process();

  // Forks a child that opens `target` and answers on `child_socket` (the server gets its own
  // copy of the descriptor). Returns the child's pid; throws akida::Error naming `source` when
  // the server cannot.
  pid_t spawn(int child_socket, uint64_t file_bytes, const std::string& source,
              const Hdf5Target& target);
  // Waits for `child` (already killed) to end and returns its wait status (0 when unknown).
  int reap(pid_t child);

  // A child and the parent's end of its socket.
  struct Child {
    pid_t pid = -1;
    int socket = -1;
  };
  // The idle child, which the caller then owns (pid -1 when there is none).
  Child take_idle();
  // Keeps `child`, in step and done with its file, as the idle child (stopping the one kept
  // before, if any).
  void keep_idle(Child child);

  pid_t pid() const { return pid_; }

 private:
  // Kills and reaps `child`, closes its socket.
  void stop(Child child);

  std::mutex mutex_;  // one request at a time on the socket; the idle child
  pid_t pid_ = -1;
  int socket_ = -1;
  Child idle_;
};

// What the parent asks (the first byte of a request).
// kOpen (a child the fork server reuses): open another file in place of the current one; its
// object is the path, its name the source, then the file's size and image follow.
enum class Hdf5Request : uint8_t {
  kExists = 1,
  kStringAttribute,
  kStringListAttribute,
  kFloatDataset,
  kOpen
};
// How the child answers (the first byte of an answer); an error answer carries the message of
// the akida::FormatError the child's reader threw.
enum class Hdf5Answer : uint8_t { kValue = 0, kAbsent = 1, kError = 2 };

class Hdf5Child {
 public:
  // Forks a child that calls `open` (which opens the file with libhdf5) and then answers
  // requests. Waits for the child's first answer: throws the child's error when the file
  // cannot be opened, or a FormatError naming `source` when the child crashes or hangs.
  // `file_bytes` (the file's size) bounds the memory the child may take.
  Hdf5Child(const std::string& source, uint64_t file_bytes,
            const std::function<DirectHdf5File()>& open);
  // The same for a child that opens `target`, forked by `server` when it is not null.
  Hdf5Child(const std::string& source, uint64_t file_bytes, const Hdf5Target& target,
            Hdf5ForkServer* server);
  // Kills and reaps the child: no process, zombie or descriptor is left behind.
  ~Hdf5Child();
  Hdf5Child(const Hdf5Child&) = delete;
  Hdf5Child& operator=(const Hdf5Child&) = delete;

  // Sends a request and reads the first byte of its answer (kValue or kAbsent; an error answer
  // is thrown). `reading` says what is read for the errors, e.g. "reading '/model_weights/x'".
  Hdf5Answer ask(Hdf5Request request, const std::string& object, const std::string& name,
                 const std::string& reading);
  // The parts of the current answer. Each waits at most the time limit; a child that died or
  // did not answer makes them throw akida::FormatError.
  uint64_t read_u64();
  void read_bytes(void* data, size_t size);

  // Stops the child after the parent gave up reading an answer midway (its size check refused
  // it): the stream is out of step, so every later request throws `error` again.
  void abandon(const std::string& error);

  // The process id (tests check it is gone after destruction); -1 once stopped.
  pid_t pid() const { return pid_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Throws "SOURCE: the HDF5 library WHAT_HAPPENED READING: the file is corrupt", and again for
  // every later request.
  [[noreturn]] void fail(const std::string& what_happened);
  Hdf5Answer read_answer();
  // Forks the child here, calling `open` in it; returns the parent's end of the socket.
  int fork_here(uint64_t file_bytes, const std::function<DirectHdf5File()>& open);
  // Waits for the child's first answer (the file opened), stopping it on failure.
  void await_opened();
  // Kills and reaps the child, closes the socket; returns the child's wait status.
  int stop();
  // Done with the file: a child the fork server forked goes back to it as its idle child when
  // it is alive and in step (every answer read whole: the reads throw only after an error
  // answer read whole, or after stopping the child); any other is stopped.
  void release();
  // Opens `target` in the server's idle child; false when there is none or it is gone.
  bool reuse_idle_child(Hdf5ForkServer& server, uint64_t file_bytes, const std::string& source,
                        const Hdf5Target& target);

  std::string source_;
  std::string reading_ = "opening the file";  // what the current request reads, for errors
  std::string failure_;  // once the child is dead: the error every request throws again
  pid_t pid_ = -1;
  int socket_ = -1;
  Hdf5ForkServer* server_ = nullptr;  // reaps the child when it forked it
  int timeout_ms_;
  Clock::time_point deadline_;  // when the current answer must be complete
};

// The time the child has to answer one request, in seconds: $CNN2SNN_HDF5_TIMEOUT, else 60.
int hdf5_child_timeout_seconds();

}  // namespace cnn2snn::keras
