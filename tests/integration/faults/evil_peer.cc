// A deliberately misbehaving PROTOCOL.md §5 peer for the fault tests: plain OpenSSL, no
// provider, no shim. It negotiates exattest itself (tls_flags extension 62 with bits 64 and
// 65, PROTOCOL.md §2: body 09 00 00 00 00 00 00 00 00 03) and plays the in-band exchange by
// hand up to a chosen point, then misbehaves (closes, stalls, or lies about a length).
//
//   evil_peer client PORT STOP            connects to 127.0.0.1:PORT (the real server attests)
//   evil_peer server PORT STOP CERT KEY   accepts one connection on 127.0.0.1:PORT
//
// client STOPs (the server side is s_server with provider + shim, attest = tpm2):
//   handshake        close right after the handshake, before any frame
//   mid_request      send 2 bytes of our REQUEST header, close
//   after_request    send REQUEST(ClientCertificateRequest, cmw offer), close at once
//   mid_auth         read the server's REQUEST and the header of its AUTHENTICATOR, close
//   after_auth       read the whole AUTHENTICATOR, close without sending RESULT
//   mid_result       read the AUTHENTICATOR, send 2 bytes of RESULT, close
//   oversize         send a REQUEST header announcing 16 KiB + 1, then stay silent 5 s
//   silent           send nothing for 5 s after the handshake, then close
// server STOPs (the client side is s_client with provider + shim, request = require):
//   handshake, after_request (our empty REQUEST, then close), mid_auth (read the client's
//   REQUEST, send an AUTHENTICATOR header announcing 100 bytes and 10 of them, close),
//   oversize (AUTHENTICATOR header announcing 1 MiB + 1, then silent 5 s),
//   silent (never send our REQUEST; stay 8 s).
// Prints "evil_peer: <what happened>" lines; exit 0 when it got to its STOP point. It
// never lives longer than 30 s (SIGALRM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

// PROTOCOL.md §2: "Bits 64 and 65 set → 00 3e 00 0a 09 00 00 00 00 00 00 00 00 03".
const uint8_t kFlags[] = {0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x03};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "evil_peer: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::exit(2);
}

void say(const std::string& s) {
  std::printf("evil_peer: %s\n", s.c_str());
  std::fflush(stdout);
}

int add_flags(SSL*, unsigned int, unsigned int, const unsigned char** out, size_t* outlen, X509*,
              size_t, int*, void*) {
  *out = kFlags;
  *outlen = sizeof(kFlags);
  return 1;
}
int parse_flags(SSL*, unsigned int, unsigned int, const unsigned char*, size_t, X509*, size_t,
                int*, void*) {
  return 1;
}

void write_all(SSL* ssl, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    size_t n = 0;
    if (SSL_write_ex(ssl, b.data() + off, b.size() - off, &n) != 1) die("SSL_write failed");
    off += n;
  }
}

Bytes read_exact(SSL* ssl, size_t len) {
  Bytes b(len);
  size_t off = 0;
  while (off < len) {
    size_t n = 0;
    if (SSL_read_ex(ssl, b.data() + off, len - off, &n) != 1) die("peer closed or read failed");
    off += n;
  }
  return b;
}

// One frame: type and body.
std::pair<uint8_t, Bytes> read_frame(SSL* ssl) {
  Bytes h = read_exact(ssl, 4);
  size_t len = size_t{h[1]} << 16 | size_t{h[2]} << 8 | h[3];
  return {h[0], read_exact(ssl, len)};
}

Bytes frame(uint8_t type, const Bytes& body) {
  Bytes f = {type, static_cast<uint8_t>(body.size() >> 16), static_cast<uint8_t>(body.size() >> 8),
             static_cast<uint8_t>(body.size())};
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

// RFC 9261 ClientCertificateRequest (17): 32-byte context, signature_algorithms
// {ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256}, empty cmw_attestation (0xff00).
Bytes client_certificate_request() {
  Bytes body;
  body.push_back(32);
  Bytes ctx(32);
  if (RAND_bytes(ctx.data(), 32) != 1) die("RAND_bytes");
  body.insert(body.end(), ctx.begin(), ctx.end());
  Bytes exts = {0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04,  // sigalgs
                0xff, 0x00, 0x00, 0x00};                                     // cmw offer
  body.push_back(static_cast<uint8_t>(exts.size() >> 8));
  body.push_back(static_cast<uint8_t>(exts.size()));
  body.insert(body.end(), exts.begin(), exts.end());
  Bytes msg = {17, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  return msg;
}

int tcp(bool server, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!server) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) die("connect");
    return fd;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) die("bind");
  if (listen(fd, 1) != 0) die("listen");
  say("listening");
  int c = accept(fd, nullptr, nullptr);
  close(fd);
  if (c < 0) die("accept");
  return c;
}

void run_client(SSL* ssl, const std::string& stop) {
  if (stop == "handshake") return say("closing after the handshake");
  if (stop == "silent") {
    say("silent after the handshake");
    sleep(5);
    return;
  }
  if (stop == "mid_request") {
    write_all(ssl, Bytes{1, 0});
    return say("closing after 2 bytes of REQUEST");
  }
  if (stop == "oversize") {
    write_all(ssl, Bytes{1, 0x00, 0x40, 0x01});  // REQUEST of 16385 bytes: over the limit
    say("sent a REQUEST header announcing 16385 bytes");
    sleep(5);
    return;
  }
  write_all(ssl, frame(1, client_certificate_request()));
  if (stop == "after_request") return say("closing after our REQUEST");
  auto req = read_frame(ssl);
  if (req.first != 1) die("expected the server's REQUEST");
  Bytes h = read_exact(ssl, 4);
  if (h[0] != 2) die("expected an AUTHENTICATOR header");
  if (stop == "mid_auth") return say("closing in the middle of the AUTHENTICATOR");
  size_t len = size_t{h[1]} << 16 | size_t{h[2]} << 8 | h[3];
  read_exact(ssl, len);
  if (stop == "after_auth") return say("closing after the AUTHENTICATOR, no RESULT");
  if (stop == "mid_result") {
    write_all(ssl, Bytes{3, 0});
    return say("closing after 2 bytes of RESULT");
  }
  die("unknown client STOP");
}

void run_server(SSL* ssl, const std::string& stop) {
  if (stop == "handshake") return say("closing after the handshake");
  if (stop == "silent") {
    say("silent: never sending our REQUEST");
    sleep(8);
    return;
  }
  write_all(ssl, frame(1, {}));
  if (stop == "after_request") return say("closing after our empty REQUEST");
  auto req = read_frame(ssl);
  if (req.first != 1 || req.second.empty()) die("expected the client's REQUEST");
  say("read the client's REQUEST (" + std::to_string(req.second.size()) + " bytes)");
  if (stop == "close_after_reading_request") return say("closing (FIN) after reading it");
  if (stop == "reset_after_reading_request") {
    // SO_LINGER 0: the close below sends a TCP RST (the client's read fails ECONNRESET).
    linger l{1, 0};
    if (setsockopt(SSL_get_fd(ssl), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) die("SO_LINGER");
    return say("resetting (RST) after reading it");
  }
  if (stop == "oversize") {
    write_all(ssl, Bytes{2, 0x10, 0x00, 0x01});  // AUTHENTICATOR of 1 MiB + 1: over the limit
    say("sent an AUTHENTICATOR header announcing 1048577 bytes");
    sleep(5);
    return;
  }
  if (stop == "mid_auth") {
    Bytes part = {2, 0, 0, 100};
    part.insert(part.end(), 10, 0x42);
    write_all(ssl, part);
    return say("closing after 10 of 100 AUTHENTICATOR bytes");
  }
  die("unknown server STOP");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: evil_peer client PORT STOP | server PORT STOP CERT KEY\n");
    return 2;
  }
  // Never outlive a test: whatever happens (a client that never connects), exit by 30 s.
  alarm(30);
  std::string role = argv[1];
  int port = std::atoi(argv[2]);
  std::string stop = argv[3];
  bool server = role == "server";
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx, 0);
  if (SSL_CTX_add_custom_ext(ctx, 62, SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                             add_flags, nullptr, nullptr, parse_flags, nullptr) != 1)
    die("SSL_CTX_add_custom_ext");
  if (server) {
    if (argc < 6) die("server needs CERT KEY");
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[4]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM) != 1)
      die("cannot load CERT/KEY");
  }
  int fd = tcp(server, port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) die("TLS handshake failed");
  say(std::string("handshake done, ") + SSL_get_version(ssl));
  if (server)
    run_server(ssl, stop);
  else
    run_client(ssl, stop);
  // An abrupt close: no close_notify, as a crashed peer would.
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return 0;
}
