// Benchmark 2 (issues #4, #7): connection setup time of a client/server pair over loopback TCP.
//
// One program, two processes: it forks a server before OpenSSL is initialised, so each side
// loads its own OpenSSL configuration (--server-conf / --client-conf set OPENSSL_CONF in that
// process; omitted = the environment's). Run it under LD_PRELOAD=libexattest-shim.so with the
// exattest configurations for the attested figure, and without either for the plain one: the
// program itself is the same unmodified OpenSSL application in both cases.
//
// Per connection (sequential, one at a time): TCP connect, SSL_connect (with exattest this
// includes the whole PROTOCOL.md §5 exchange: the server's TPM quote, the client's
// validation and appraisal), then one application byte each way, so the server side has
// finished its part too. Wall time, client side.
//
//   conn_bench --cert server.pem --key server.key --cafile ca.pem [--n 200]
//              [--server-conf F] [--client-conf F] [--label attested]
#include <signal.h>
#include <sys/wait.h>

#include "bench_util.h"

using namespace exattest;
using bench::die;

namespace {

[[noreturn]] void serve(int lfd, const std::string& cert, const std::string& key) {
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
    die("server: cannot load " + cert + " / " + key);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  for (;;) {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    UniquePtr<SSL> ssl(SSL_new(ctx.get()));
    if (ssl && SSL_set_fd(ssl.get(), fd) == 1 && SSL_accept(ssl.get()) == 1) {
      char c = 0;
      size_t n = 0;
      if (SSL_read_ex(ssl.get(), &c, 1, &n) == 1 && SSL_write_ex(ssl.get(), "y", 1, &n) == 1) {
        // Wait for the client's close so the connection's end is not on the clock.
        (void)SSL_read_ex(ssl.get(), &c, 1, &n);
      }
    } else {
      ERR_print_errors_fp(stderr);
    }
    ERR_clear_error();
    ssl.reset();
    close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string cert = bench::arg(argc, argv, "--cert");
  std::string key = bench::arg(argc, argv, "--key");
  std::string cafile = bench::arg(argc, argv, "--cafile");
  std::string sconf = bench::arg(argc, argv, "--server-conf");
  std::string cconf = bench::arg(argc, argv, "--client-conf");
  std::string label = bench::arg(argc, argv, "--label", "run");
  long n = bench::arg_int(argc, argv, "--n", 200);
  long warmup = bench::arg_int(argc, argv, "--warmup", 3);
  if (cert.empty() || key.empty() || cafile.empty() || n < 1)
    die("usage: conn_bench --cert F --key F --cafile F [--n N] [--server-conf F] "
        "[--client-conf F]");

  // The listening socket exists before the fork: no race with the first connect.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(lfd, 64) != 0 || getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen) != 0)
    die("cannot listen on 127.0.0.1");
  int port = ntohs(a.sin_port);

  pid_t server = fork();
  if (server < 0) die("fork");
  if (server == 0) {
    if (!sconf.empty()) setenv("OPENSSL_CONF", sconf.c_str(), 1);
    serve(lfd, cert, key);
  }
  close(lfd);
  if (!cconf.empty()) setenv("OPENSSL_CONF", cconf.c_str(), 1);

  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), cafile.c_str(), nullptr) != 1)
    die("client: cannot load " + cafile);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // No session cache: every connection is a full handshake, like a fresh curl.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  std::vector<double> t;
  for (long i = 0; i < warmup + n; ++i) {
    double t0 = bench::wall_ms();
    int fd = bench::tcp_connect(port);
    if (fd < 0) {
      kill(server, SIGTERM);
      die("connect to 127.0.0.1:" + std::to_string(port));
    }
    UniquePtr<SSL> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    SSL_set_tlsext_host_name(ssl.get(), "localhost");
    SSL_set1_host(ssl.get(), "localhost");
    char c = 0;
    size_t got = 0;
    if (SSL_connect(ssl.get()) != 1 || SSL_write_ex(ssl.get(), "x", 1, &got) != 1 ||
        SSL_read_ex(ssl.get(), &c, 1, &got) != 1 || c != 'y') {
      kill(server, SIGTERM);
      die("connection " + std::to_string(i) + " failed");
    }
    double t1 = bench::wall_ms();
    if (i >= warmup) t.push_back(t1 - t0);
    SSL_shutdown(ssl.get());
    ssl.reset();
    close(fd);
  }
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  std::printf("{\"label\": \"%s\", \"setup_ms\": %s,\n \"samples_ms\": %s}\n", label.c_str(),
              bench::json_stats(bench::stats(t)).c_str(), bench::json_array(t).c_str());
  return 0;
}
