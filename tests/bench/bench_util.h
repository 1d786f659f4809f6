// Shared helpers of the benchmark programs (tests/bench): clocks, statistics, JSON output,
// small PEM/key/socket helpers. Benchmarks are not tests: they print figures, and fail
// (exit 1, message on stderr) only when what they measure did not work.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl_ptr.h"

namespace exattest::bench {

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    std::fprintf(stderr, "bench:   %s\n", buf);
  }
  std::exit(1);
}

inline double clock_ms(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
inline double wall_ms() { return clock_ms(CLOCK_MONOTONIC); }
inline double thread_cpu_ms() { return clock_ms(CLOCK_THREAD_CPUTIME_ID); }

struct Stats {
  double median = 0, min = 0, max = 0, mean = 0;
  size_t n = 0;
};

inline Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

inline std::string json_stats(const Stats& s) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"mean\": %.6g, \"n\": %zu}",
                s.median, s.min, s.max, s.mean, s.n);
  return buf;
}

inline std::string json_array(const std::vector<double>& v) {
  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%.6g", i ? ", " : "", v[i]);
    out += buf;
  }
  return out + "]";
}

// Value of "--name" in argv, or `def`.
inline std::string arg(int argc, char** argv, std::string_view name, std::string def = "") {
  for (int i = 1; i + 1 < argc; ++i)
    if (name == argv[i]) return argv[i + 1];
  return def;
}
inline long arg_int(int argc, char** argv, std::string_view name, long def) {
  std::string v = arg(argc, argv, name);
  if (v.empty()) return def;
  char* end = nullptr;
  long x = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || x < 0) die(std::string(name) + ": not a count: " + v);
  return x;
}

inline UniquePtr<X509> load_cert(const std::string& path) {
  UniquePtr<BIO> b(BIO_new_file(path.c_str(), "r"));
  if (!b) die("cannot open " + path);
  UniquePtr<X509> x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!x) die("not a PEM certificate: " + path);
  return x;
}

// A blocking TCP connection to 127.0.0.1:port with Nagle off (both benchmarks and real
// clients like curl set TCP_NODELAY; with it on, small exchange frames wait 40 ms).
inline int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace exattest::bench
