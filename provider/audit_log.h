// The attestation audit log (PROTOCOL.md §8 `log`): one JSON line per outcome.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "inband/machine.h"

namespace exattest::audit {

// What one line says besides the record itself.
struct Context {
  std::string_view role;  // "client" | "server"
  std::string peer;       // "127.0.0.1:443", "[::1]:443", or "" when unknown
};

// The JSON line (with its trailing '\n'): time (RFC 3339 UTC), role, peer (when known),
// event, outcome, reason (§7 name), detail, ak and pcrs (when known). Never secrets.
std::string format_line(std::chrono::system_clock::time_point when, const Context& ctx,
                        const inband::Record& record);

// "127.0.0.1:443" for a connected socket, "" otherwise.
std::string peer_address(int fd);

// A log destination: "" (off), "stderr", or a file opened lazily in append mode. Each line is
// one write(2) on an O_APPEND descriptor, so concurrent processes never interleave lines.
class AuditLog {
 public:
  explicit AuditLog(std::string destination) : dest_(std::move(destination)) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  bool enabled() const { return !dest_.empty(); }
  // Appends one line; a failure names the file and the fix (the caller decides whether it
  // matters; a broken log never changes an attestation outcome).
  Status write(const Context& ctx, const inband::Record& record);

 private:
  Status open_locked();
  std::string dest_;
  std::mutex mu_;
  int fd_ = -1;
  pid_t pid_ = 0;
};

}  // namespace exattest::audit
