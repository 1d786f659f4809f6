#include "audit_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace exattest::audit {

namespace {

std::string rfc3339_utc(std::chrono::system_clock::time_point when) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(when);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::string format_line(std::chrono::system_clock::time_point when, const Context& ctx,
                        const inband::Record& record) {
  nlohmann::ordered_json j;
  j["time"] = rfc3339_utc(when);
  j["role"] = std::string(ctx.role);
  if (!ctx.peer.empty()) j["peer"] = ctx.peer;
  j["event"] = record.event;
  j["outcome"] = record.outcome;
  j["reason"] = std::string(reason_name(record.reason));
  j["detail"] = record.detail;
  if (!record.ak.empty()) j["ak"] = record.ak;
  if (!record.pcrs.empty()) j["pcrs"] = record.pcrs;
  // Details may quote peer text: invalid UTF-8 is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string peer_address(int fd) {
  if (fd < 0) return "";
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    if (!inet_ntop(AF_INET, &in->sin_addr, host, sizeof host)) return "";
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host)) return "";
    // Appended piecewise: `"[" + std::string(...)` trips gcc 12's false -Wrestrict at -O3.
    std::string out = "[";
    out.append(host).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    return out;
  }
  return "";
}

AuditLog::~AuditLog() {
  if (fd_ >= 0 && dest_ != "stderr") close(fd_);
}

Status AuditLog::open_locked() {
  pid_t pid = getpid();
  if (fd_ >= 0 && pid_ == pid) return Status::Ok();
  // A descriptor inherited across fork() still appends correctly; keep it.
  if (fd_ >= 0) {
    pid_ = pid;
    return Status::Ok();
  }
  if (dest_ == "stderr") {
    fd_ = STDERR_FILENO;
  } else {
    fd_ = open(dest_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0)
      return make_error(Reason::kPolicyError,
                        "cannot open log file " + dest_ + " (" + std::strerror(errno) +
                            "); fix its directory/permissions or set `log` in [exattest_sect] "
                            "or EXATTEST_LOG");
  }
  pid_ = pid;
  return Status::Ok();
}

Status AuditLog::write(const Context& ctx, const inband::Record& record) {
  if (!enabled()) return Status::Ok();
  std::string line = format_line(std::chrono::system_clock::now(), ctx, record);
  std::lock_guard<std::mutex> lock(mu_);
  EXATTEST_RETURN_IF_ERROR(open_locked());
  // One write(2) per line: with O_APPEND, lines of concurrent workers never interleave.
  ssize_t n;
  do {
    n = ::write(fd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size()))
    return make_error(Reason::kPolicyError,
                      "short write to log " + dest_ +
                          (n < 0 ? std::string(" (") + std::strerror(errno) + ")" : std::string()));
  return Status::Ok();
}

}  // namespace exattest::audit
