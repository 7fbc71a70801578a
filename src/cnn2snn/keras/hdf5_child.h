// A forked child process that runs libhdf5 on one file and answers the reads of Hdf5File over a
// socket. Debian's libhdf5 1.10 crashes, overflows buffers, asks for terabytes or loops on some
// corrupt files; in the child those take only the child down, and the parent turns them into an
// akida::FormatError naming the file and the object being read. The child is forked without
// exec (nothing to find on disk, works from the Python package too) and calls only libhdf5 and
// plain C++ (hdf5_direct.h). The parent only initializes the library once (no file is read), so
// that each child starts with that done.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cnn2snn::keras {

class DirectHdf5File;

// What the parent asks (the first byte of a request).
enum class Hdf5Request : uint8_t { kExists = 1, kStringAttribute, kStringListAttribute, kFloatDataset };
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
  // Kills and reaps the child, closes the socket; returns the child's wait status.
  int stop();

  std::string source_;
  std::string reading_ = "opening the file";  // what the current request reads, for errors
  std::string failure_;  // once the child is dead: the error every request throws again
  pid_t pid_ = -1;
  int socket_ = -1;
  int timeout_ms_;
  Clock::time_point deadline_;  // when the current answer must be complete
};

// The time the child has to answer one request, in seconds: $CNN2SNN_HDF5_TIMEOUT, else 60.
int hdf5_child_timeout_seconds();

}  // namespace cnn2snn::keras
