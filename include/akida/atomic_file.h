// Writing a file so that it holds either its previous content (or is absent) or the whole new
// content, never part of it, whatever happens to the writer: every file the tools and the
// Python package write (.fbz, .npy, .onnx, JSON) goes through write_file_atomically().
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace akida {

// Writes `bytes` to a new temporary file beside `path` (same folder, so the rename cannot cross
// file systems; named ".<name>.tmp-<pid>-<n>"), flushes it to disk, then renames it over `path`.
// An existing `path` keeps its permission bits; a new one gets 0666 minus the umask. On any
// failure the temporary file is removed and Error "PATH: ..." is thrown, `path` untouched. A
// process killed midway leaves `path` untouched too, and at worst the temporary file (see
// remove_partial_writes_on_signals() for the signals a process can catch).
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);

// Installs SIGINT, SIGTERM and SIGHUP handlers that remove the temporary file of any
// write_file_atomically() in progress, then end the process as the signal would have. For
// command-line tools: a library must not take over its host's signals. Idempotent.
void remove_partial_writes_on_signals();

// Test hook (tests/cli/atomic_write.sh): when this environment variable is set,
// write_file_atomically() stops the process (SIGSTOP) after writing half of the temporary file,
// so that a test can kill it at that exact point.
inline constexpr const char* kStopMidWriteVariable = "AKIDA_TEST_STOP_MID_WRITE";

}  // namespace akida
