// Benchmark 3 (issue #7): new-connection-per-request HTTPS load, `--concurrency` clients in
// parallel for `--seconds`, each doing: TCP connect, full TLS 1.3 handshake (no resumption),
// "GET / HTTP/1.1" with "Connection: close", read the whole response, close. Counts
// completed 200 responses per second.
//
// An ordinary OpenSSL client: run it under LD_PRELOAD=libexattest-shim.so with an exattest
// OPENSSL_CONF (request = require) for the attested figure, plain for the baseline.
//
//   load_client --port P --cafile ca.pem [--concurrency 8] [--seconds 10] [--label x]
#include <atomic>
#include <mutex>
#include <thread>

#include "bench_util.h"

using namespace exattest;
using bench::die;

int main(int argc, char** argv) {
  int port = static_cast<int>(bench::arg_int(argc, argv, "--port", 0));
  std::string cafile = bench::arg(argc, argv, "--cafile");
  std::string label = bench::arg(argc, argv, "--label", "run");
  long conc = bench::arg_int(argc, argv, "--concurrency", 8);
  long seconds = bench::arg_int(argc, argv, "--seconds", 10);
  if (port <= 0 || cafile.empty() || conc < 1 || seconds < 1)
    die("usage: load_client --port P --cafile F [--concurrency N] [--seconds S]");

  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), cafile.c_str(), nullptr) != 1)
    die("cannot load " + cafile);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  static const char kReq[] =
      "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: exattest-bench\r\n\r\n";
  std::atomic<long> ok{0}, failed{0};
  std::mutex mu;
  std::vector<double> lat;
  std::string first_error;
  const double start = bench::wall_ms();
  const double end = start + static_cast<double>(seconds) * 1000.0;

  auto worker = [&] {
    std::vector<double> mine;
    char buf[4096];
    while (bench::wall_ms() < end) {
      double t0 = bench::wall_ms();
      int fd = bench::tcp_connect(port);
      bool good = false;
      std::string err;
      if (fd >= 0) {
        UniquePtr<SSL> ssl(SSL_new(ctx.get()));
        SSL_set_fd(ssl.get(), fd);
        SSL_set_tlsext_host_name(ssl.get(), "localhost");
        SSL_set1_host(ssl.get(), "localhost");
        size_t n = 0;
        if (SSL_connect(ssl.get()) == 1 &&
            SSL_write_ex(ssl.get(), kReq, sizeof(kReq) - 1, &n) == 1) {
          std::string resp;
          while (SSL_read_ex(ssl.get(), buf, sizeof(buf), &n) == 1) resp.append(buf, n);
          good = resp.rfind("HTTP/1.1 200", 0) == 0;
          if (!good) err = "response: " + resp.substr(0, 40);
          SSL_shutdown(ssl.get());
        } else {
          char e[256];
          ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
          err = e;
        }
        ERR_clear_error();
        ssl.reset();
        close(fd);
      } else {
        err = "connect refused";
      }
      double t1 = bench::wall_ms();
      if (good) {
        ++ok;
        mine.push_back(t1 - t0);
      } else {
        ++failed;
        std::lock_guard<std::mutex> l(mu);
        if (first_error.empty()) first_error = err;
      }
    }
    std::lock_guard<std::mutex> l(mu);
    lat.insert(lat.end(), mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (long i = 0; i < conc; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  double elapsed = (bench::wall_ms() - start) / 1000.0;
  std::string esc;
  for (char c : first_error) esc += (c == '"' || c == '\\' || c < 0x20) ? '?' : c;
  std::printf("{\"label\": \"%s\", \"concurrency\": %ld, \"seconds\": %.3f, \"requests\": %ld,"
              " \"errors\": %ld, \"rps\": %.2f,\n \"latency_ms\": %s, \"first_error\": \"%s\"}\n",
              label.c_str(), conc, elapsed, ok.load(), failed.load(),
              static_cast<double>(ok.load()) / elapsed,
              bench::json_stats(bench::stats(lat)).c_str(), esc.c_str());
  // Failed requests are a failure of the measurement, not a slower figure.
  return failed.load() == 0 && ok.load() > 0 ? 0 : 1;
}
