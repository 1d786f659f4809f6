// Benchmark 1 (issue #7): CPU of one Exported Authenticator exchange vs one TLS 1.3 handshake.
//
// Both ends of an in-memory TLS pair (BIO pair) run in this one thread, so the thread's CPU
// clock counts client + server work together. Per iteration:
//   handshake: SSL_new x2 + the whole TLS 1.3 handshake, client verifying the server's chain
//              (as curl does);
//   EA:        the figure: build + validate of one authenticator (RFC 9261) carrying a
//              real TPM CMW: the client's request, the server's parse of it and its
//              authenticator (exporters, Certificate, CertificateVerify signature, Finished),
//              the client's validation (exporters, leaf check, signature verification,
//              Finished, cmw_attestation decoding);
//   exchange:  on that connection, everything PROTOCOL.md §5 adds apart from the TPM and
//              appraisal: the EA above plus both REQUEST frames, the §4 binding on both sides
//              and the RESULT frame, every frame written and read through the TLS connection.
// The CMW is quoted ONCE from the TPM at --tcti (one per binding size), so the TPM's latency
// is not in this figure (see tpm_bench for it).
//
//   ea_cpu_bench --tcti swtpm:host=127.0.0.1,port=P [--reps 7] [--iters 100] [--only 0..3]
// prints one JSON object.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <map>
#include <optional>

#include "attesters/tpm2/attester.h"
#include "attesters/tpm2/pcr_selection.h"
#include "bench_util.h"
#include "binding.h"
#include "ea/ea.h"
#include "wire/wire.h"

namespace {

using namespace exattest;
using bench::die;

UniquePtr<EVP_PKEY> make_key(bool rsa) {
  EVP_PKEY* k = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (k == nullptr) die("key generation failed");
  return UniquePtr<EVP_PKEY>(k);
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) die("certificate extension");
  X509_EXTENSION_free(ext);
}

UniquePtr<X509> make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                          bool ca) {
  UniquePtr<X509> x(X509_new());
  if (!x || X509_set_version(x.get(), 2) != 1) die("X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ca ? 1 : 2);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key);
  X509* iss = issuer ? issuer : x.get();
  add_ext(x.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x.get(), iss, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (!ca) add_ext(x.get(), iss, NID_subject_alt_name, "DNS:localhost");
  if (X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) die("X509_sign");
  return x;
}

// One measured configuration: leaf key type x TLS 1.3 cipher suite.
struct Setup {
  std::string leaf_name, suite;
  UniquePtr<EVP_PKEY> root_key, leaf_key;
  UniquePtr<X509> root, leaf;
  UniquePtr<X509_STORE> trust;
  UniquePtr<SSL_CTX> sctx, cctx;
};

Setup make_setup(bool rsa, const std::string& suite) {
  Setup s;
  s.leaf_name = rsa ? "RSA-2048" : "P-256";
  s.suite = suite;
  s.root_key = make_key(false);
  s.root = make_cert("bench root", s.root_key.get(), nullptr, nullptr, true);
  s.leaf_key = make_key(rsa);
  s.leaf = make_cert("localhost", s.leaf_key.get(), s.root.get(), s.root_key.get(), false);
  s.trust.reset(X509_STORE_new());
  X509_STORE_add_cert(s.trust.get(), s.root.get());
  s.sctx.reset(SSL_CTX_new(TLS_server_method()));
  s.cctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!s.sctx || !s.cctx) die("SSL_CTX_new");
  for (SSL_CTX* c : {s.sctx.get(), s.cctx.get()}) {
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    if (SSL_CTX_set_ciphersuites(c, suite.c_str()) != 1) die("cipher suite " + suite);
    X509_STORE_up_ref(s.trust.get());
    SSL_CTX_set_cert_store(c, s.trust.get());
  }
  if (SSL_CTX_use_certificate(s.sctx.get(), s.leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(s.sctx.get(), s.leaf_key.get()) != 1)
    die("server identity");
  // PROTOCOL.md §5: attested connections send no NewSessionTicket; keep the baseline equal.
  SSL_CTX_set_num_tickets(s.sctx.get(), 0);
  SSL_CTX_set_verify(s.cctx.get(), SSL_VERIFY_PEER, nullptr);
  return s;
}

struct Pair {
  UniquePtr<SSL> client, server;
};

bool step(SSL* s, bool& done) {
  int r = SSL_do_handshake(s);
  if (r == 1) {
    done = true;
    return true;
  }
  int e = SSL_get_error(s, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

Pair handshake(Setup& s) {
  Pair p;
  p.server.reset(SSL_new(s.sctx.get()));
  p.client.reset(SSL_new(s.cctx.get()));
  BIO *a = nullptr, *b = nullptr;
  if (!p.server || !p.client || BIO_new_bio_pair(&a, 0, &b, 0) != 1) die("SSL_new");
  SSL_set_bio(p.client.get(), a, a);
  SSL_set_bio(p.server.get(), b, b);
  SSL_set_connect_state(p.client.get());
  SSL_set_accept_state(p.server.get());
  SSL_set_tlsext_host_name(p.client.get(), "localhost");
  bool cd = false, sd = false;
  for (int i = 0; i < 32 && !(cd && sd); ++i) {
    if (!cd && !step(p.client.get(), cd)) die("client handshake failed");
    if (!sd && !step(p.server.get(), sd)) die("server handshake failed");
  }
  if (!cd || !sd) die("handshake did not complete");
  return p;
}

// PROTOCOL.md §5: "Frame = type(1) | length(3, big-endian) | body[length]".
void send_frame(SSL* s, uint8_t type, ByteView body) {
  wire::Writer w;
  w.u8(type);
  w.prefixed_u24([&](wire::Writer& x) { x.bytes(body); });
  if (!w.ok()) die("frame too large");
  size_t n = 0;
  if (SSL_write_ex(s, w.data().data(), w.size(), &n) != 1 || n != w.size()) die("SSL_write");
}

Bytes recv_frame(SSL* s, uint8_t want_type) {
  uint8_t hdr[4];
  size_t n = 0;
  if (SSL_read_ex(s, hdr, 4, &n) != 1 || n != 4) die("SSL_read (frame header)");
  wire::Reader r(hdr, 4);
  uint8_t type = 0;
  uint32_t len = 0;
  if (!r.u8(type) || !r.u24(len) || type != want_type) die("unexpected frame");
  Bytes body(len);
  size_t got = 0;
  while (got < len) {
    if (SSL_read_ex(s, body.data() + got, len - got, &n) != 1) die("SSL_read (frame body)");
    got += n;
  }
  return body;
}

// The exchange of PROTOCOL.md §5 for server-only attestation, minus quote and appraisal.
// Adds the CPU time of the RFC 9261 steps alone (build + validate) to `ea_ms`.
void ea_exchange(Pair& p, Setup& s, const Bytes& cmw, double& ea_ms) {
  SSL* c = p.client.get();
  SSL* sv = p.server.get();
  ea::Connection cc(c);
  ea::Connection sc(sv);
  // Step 1: both send REQUEST (server: empty, client: its own with the cmw offer).
  send_frame(sv, 1, {});
  double t = bench::thread_cpu_ms();
  auto req = cc.create_request(/*offer_cmw=*/true);
  ea_ms += bench::thread_cpu_ms() - t;
  if (!req.ok()) die("create_request: " + req.error().detail);
  send_frame(c, 1, view(*req));
  // Step 2.
  if (!recv_frame(c, 1).empty()) die("server REQUEST not empty");
  Bytes got = recv_frame(sv, 1);
  ea::ParseOptions po;
  po.require_32_byte_context = true;
  t = bench::thread_cpu_ms();
  auto parsed = sc.parse_request(view(got), po);
  ea_ms += bench::thread_cpu_ms() - t;
  if (!parsed.ok()) die("parse_request: " + parsed.error().detail);
  // Step 3 (server): binding for the quote, then AUTHENTICATOR.
  X509* leaf = SSL_get_certificate(sv);
  auto b = binding::compute(sv, view(parsed->context), leaf);
  if (!b.ok()) die("binding: " + b.error().detail);
  t = bench::thread_cpu_ms();
  auto auth = sc.create_authenticator(view(got), leaf, nullptr, SSL_get_privatekey(sv), view(cmw));
  ea_ms += bench::thread_cpu_ms() - t;
  if (!auth.ok()) die("create_authenticator: " + auth.error().detail);
  send_frame(sv, 2, view(*auth));
  // Step 3 (client): validate, recompute the binding, send RESULT(accepted).
  Bytes a = recv_frame(c, 2);
  t = bench::thread_cpu_ms();
  auto v = cc.validate(view(*req), view(a), SSL_CTX_get_cert_store(SSL_get_SSL_CTX(c)));
  ea_ms += bench::thread_cpu_ms() - t;
  if (!v.ok()) die("validate: " + v.error().detail);
  if (!v->cmw_data || v->cmw_data->size() != cmw.size()) die("cmw_data not carried");
  auto cb = binding::compute(c, view(v->context), v->leaf.get());
  if (!cb.ok() || *cb != *b) die("client binding differs from server binding");
  const uint8_t result[4] = {0, 0, 0, 0};
  send_frame(c, 3, ByteView(result, 4));
  Bytes r = recv_frame(sv, 3);
  if (r.size() != 4 || r[0] != 0) die("RESULT");
}

}  // namespace

int main(int argc, char** argv) {
  std::string tcti = bench::arg(argc, argv, "--tcti");
  long reps = bench::arg_int(argc, argv, "--reps", 7);
  long iters = bench::arg_int(argc, argv, "--iters", 100);
  // For profiling one configuration (0..3 in the order below); -1 = all.
  long only = bench::arg_int(argc, argv, "--only", 99);
  if (tcti.empty() || reps < 1 || iters < 1)
    die("usage: ea_cpu_bench --tcti TCTI [--reps N] [--iters N]");

  // One real CMW per binding size (SHA-256: 32 bytes, SHA-384: 48 bytes).
  tpm2::Tpm2Config tc;
  tc.tcti = tcti;
  auto pcrs = tpm2::parse_pcr_selection("sha256:0,1,2,3,4,5,6,7");
  if (!pcrs.ok()) die("pcr selection");
  tc.pcrs = *pcrs;
  tpm2::Tpm2Attester attester(tc);
  std::map<size_t, Bytes> cmw;
  for (size_t len : {32u, 48u}) {
    Bytes binding(len);
    RAND_bytes(binding.data(), static_cast<int>(len));
    auto e = attester.evidence(view(binding));
    if (!e.ok()) die("TPM evidence: " + e.error().detail);
    cmw[len] = std::move(*e);
  }

  struct Cfg {
    bool rsa;
    const char* suite;
  };
  const Cfg cfgs[] = {{false, "TLS_AES_128_GCM_SHA256"},
                      {false, "TLS_AES_256_GCM_SHA384"},
                      {true, "TLS_AES_128_GCM_SHA256"},
                      {true, "TLS_AES_256_GCM_SHA384"}};
  std::printf("{\"reps\": %ld, \"iters\": %ld, \"cmw_bytes\": {\"32\": %zu, \"48\": %zu},\n"
              " \"configs\": [",
              reps, iters, cmw[32].size(), cmw[48].size());
  bool first = true;
  for (long ci = 0; ci < 4; ++ci) {
    const Cfg& cf = cfgs[ci];
    if (only != 99 && only != ci) continue;
    Setup s = make_setup(cf.rsa, cf.suite);
    const Bytes& c = cmw[std::string_view(cf.suite).ends_with("SHA384") ? 48 : 32];
    // Warm-up: fetches, caches, page faults.
    for (int i = 0; i < 3; ++i) {
      Pair p = handshake(s);
      double unused = 0;
      ea_exchange(p, s, c, unused);
    }
    std::vector<double> hs, ea, ex, ratio, ex_ratio;
    for (long r = 0; r < reps; ++r) {
      double hs_sum = 0, ea_sum = 0, ex_sum = 0;
      for (long i = 0; i < iters; ++i) {
        double t0 = bench::thread_cpu_ms();
        Pair p = handshake(s);
        double t1 = bench::thread_cpu_ms();
        ea_exchange(p, s, c, ea_sum);
        double t2 = bench::thread_cpu_ms();
        hs_sum += t1 - t0;
        ex_sum += t2 - t1;
      }
      hs.push_back(hs_sum / static_cast<double>(iters));
      ea.push_back(ea_sum / static_cast<double>(iters));
      ex.push_back(ex_sum / static_cast<double>(iters));
      ratio.push_back(ea_sum / hs_sum);
      ex_ratio.push_back(ex_sum / hs_sum);
    }
    std::printf("%s\n  {\"leaf\": \"%s\", \"suite\": \"%s\", \"handshake_cpu_ms\": %s,\n"
                "   \"ea_cpu_ms\": %s, \"ratio\": %s,\n"
                "   \"exchange_cpu_ms\": %s, \"exchange_ratio\": %s}",
                first ? "" : ",", s.leaf_name.c_str(), s.suite.c_str(),
                bench::json_stats(bench::stats(hs)).c_str(),
                bench::json_stats(bench::stats(ea)).c_str(),
                bench::json_stats(bench::stats(ratio)).c_str(),
                bench::json_stats(bench::stats(ex)).c_str(),
                bench::json_stats(bench::stats(ex_ratio)).c_str());
    first = false;
  }
  std::printf("]}\n");
  return 0;
}
