// Memory bounds of every parser (issue #6): worst-case inputs (huge declared lengths, deep
// nesting, maximum-size frames, 1 MiB of nested arrays, ...) must be rejected with their
// PROTOCOL.md §7 reason while allocating at most a few times the input's size.
//
// Each case runs in a forked child, so a runaway allocation or a crash cannot take the test
// process with it, and the child's heap use is measured from a clean start. The child counts
// every heap allocation of the whole process — libcbor's and OpenSSL's malloc included,
// which a replacement operator new would not see:
//  * plain builds: malloc/calloc/realloc/free/memalign... are interposed here and forwarded
//    to glibc's __libc_* entry points; the peak counts the size REQUESTED, even when the
//    allocation fails (RLIMIT_AS caps the child at 1 GiB more than it started with), so a
//    declared-length pre-allocation shows up as what it asked for;
//  * ASan builds: ASan owns malloc, so its allocation hooks count instead (an allocation
//    larger than ASan allows aborts the child, which fails the case).
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <string>

#include "attesters/tpm2/evidence.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/tpm_structs.h"
#include "cmw/cmw.h"
#include "ea/ea.h"
#include "hooks.h"
#include "inband/frame.h"
#include "inband/machine.h"
#include "test_support.h"
#include "tls_pair.h"
#include "wire/wire.h"

#if defined(__SANITIZE_ADDRESS__)
#define EXATTEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EXATTEST_ASAN 1
#endif
#endif

using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::reason_name;

// ---------------------------------------------------------------------------------------
// Allocation accounting
// ---------------------------------------------------------------------------------------

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};

void note_request(size_t n) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  int64_t want = g_current.load(std::memory_order_relaxed) + static_cast<int64_t>(n);
  int64_t p = g_peak.load(std::memory_order_relaxed);
  while (want > p && !g_peak.compare_exchange_weak(p, want)) {
  }
}
void note_alloc(size_t usable) {
  if (g_counting.load(std::memory_order_relaxed)) g_current += static_cast<int64_t>(usable);
}
void note_free(size_t usable) {
  if (g_counting.load(std::memory_order_relaxed)) g_current -= static_cast<int64_t>(usable);
}
}  // namespace

#if defined(EXATTEST_ASAN)
// From compiler-rt's sanitizer/allocator_interface.h (gcc does not install that header).
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, size_t), void (*free_hook)(const volatile void*));
extern "C" size_t __sanitizer_get_allocated_size(const volatile void* p);
namespace {
void asan_malloc_hook(const volatile void* p, size_t n) {
  note_request(n);
  if (p) note_alloc(n);
}
void asan_free_hook(const volatile void* p) {
  if (p) note_free(__sanitizer_get_allocated_size(p));
}
void install_counting() {
  __sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook);
}
}  // namespace
#else
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
  note_request(n);
  void* p = __libc_malloc(n);
  if (p) note_alloc(malloc_usable_size(p));
  return p;
}
void* calloc(size_t a, size_t b) {
  size_t n;
  if (__builtin_mul_overflow(a, b, &n)) n = SIZE_MAX;
  note_request(n);
  void* p = __libc_calloc(a, b);
  if (p) note_alloc(malloc_usable_size(p));
  return p;
}
void* realloc(void* old, size_t n) {
  size_t before = old ? malloc_usable_size(old) : 0;
  note_request(n);  // the old block lives until the copy is done
  void* p = __libc_realloc(old, n);
  if (p) {
    note_free(before);
    note_alloc(malloc_usable_size(p));
  } else if (n == 0 && old) {
    note_free(before);
  }
  return p;
}
void free(void* p) {
  if (p) note_free(malloc_usable_size(p));
  __libc_free(p);
}
void* memalign(size_t align, size_t n) {
  note_request(n);
  void* p = __libc_memalign(align, n);
  if (p) note_alloc(malloc_usable_size(p));
  return p;
}
void* aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
int posix_memalign(void** out, size_t align, size_t n) {
  void* p = memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
namespace {
void install_counting() {}
}  // namespace
#endif

namespace {

struct Outcome {
  bool exited = false;   // the child ran to the end (no crash, no abort)
  int32_t reason = -1;   // the §7 reason the parser returned (0 = accepted)
  int64_t peak = 0;      // peak heap bytes during the parse, above the start
  std::string detail;    // the parser's detail text (first 200 bytes)
};

struct Report {
  int32_t reason;
  int64_t peak;
  char detail[200];
};

// Runs `parse` in a forked child with allocation counting on; returns what it reported.
// `parse` returns the reason of its result (Reason::kNone when accepted) and its detail.
Outcome measure(const std::function<std::pair<Reason, std::string>()>& parse) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  fflush(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
#if !defined(EXATTEST_ASAN)
    // A runaway allocation fails instead of eating the machine (the peak still records
    // what was asked for).
    long pages = 0;
    if (FILE* f = fopen("/proc/self/statm", "r")) {
      if (fscanf(f, "%ld", &pages) != 1) pages = 0;
      fclose(f);
    }
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max =
        static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (1ull << 30);
    setrlimit(RLIMIT_AS, &lim);
#endif
    install_counting();
    g_current = 0;
    g_peak = 0;
    g_counting = true;
    std::pair<Reason, std::string> r;
    try {
      r = parse();
    } catch (...) {
      _exit(3);  // an exception escaping a parser is a failure of its own
    }
    g_counting = false;
    Report rep{};
    rep.reason = static_cast<int32_t>(r.first);
    rep.peak = g_peak.load();
    std::strncpy(rep.detail, r.second.c_str(), sizeof(rep.detail) - 1);
    ssize_t w = write(fds[1], &rep, sizeof(rep));
    _exit(w == static_cast<ssize_t>(sizeof(rep)) ? 0 : 5);
  }
  close(fds[1]);
  Report rep{};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof(rep))) {
    ssize_t n = read(fds[0], reinterpret_cast<char*>(&rep) + got, sizeof(rep) - got);
    if (n <= 0) break;
    got += n;
  }
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  Outcome o;
  o.exited = WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof(rep);
  if (!o.exited) {
    WARN("child " << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exited " + std::to_string(WEXITSTATUS(status))));
    return o;
  }
  o.reason = rep.reason;
  o.peak = rep.peak;
  o.detail = rep.detail;
  return o;
}

template <class R>
std::pair<Reason, std::string> outcome_of(const R& r) {
  if (r.ok()) return {Reason::kNone, ""};
  return {r.error().reason, r.error().detail};
}

// "A few times its size": 4x the input, plus 256 KiB for what any call costs regardless of
// input (OpenSSL and libcbor first-use initialisation, error detail strings).
constexpr int64_t kSlack = 256 * 1024;
int64_t budget(size_t input_size, int64_t factor = 4) {
  return factor * static_cast<int64_t>(input_size) + kSlack;
}

#define EXPECT_BOUNDED(outcome, want_reason, input_size)                                  \
  do {                                                                                    \
    const Outcome& o_ = (outcome);                                                        \
    INFO("detail: " << o_.detail << "; peak " << o_.peak << " bytes for an input of "    \
                    << (input_size) << " bytes");                                         \
    REQUIRE(o_.exited);                                                                   \
    CHECK(reason_name(static_cast<Reason>(o_.reason)) == reason_name(want_reason));       \
    CHECK(o_.peak <= budget(input_size));                                                 \
  } while (0)

Bytes repeat(size_t n, uint8_t b) { return Bytes(n, b); }
constexpr size_t kMiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// CBOR: CMW codec, PROTOCOL.md §6 evidence
// ---------------------------------------------------------------------------------------

// Heads that declare 2^64-1 (or 2^32-1) elements/bytes with nothing behind them.
const std::vector<std::pair<const char*, Bytes>> kHugeHeads = {
    {"array of 2^64-1", {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {"array of 2^32-1", {0x9a, 0xff, 0xff, 0xff, 0xff}},
    {"map of 2^64-1", {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {"bstr of 2^32-1", {0x5a, 0xff, 0xff, 0xff, 0xff}},
    {"tstr of 2^64-1", {0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {"array of 2^16 in [tstr, ...]", {0x83, 0x60, 0x99, 0xff, 0xff}},
};

TEST_CASE("CMW CBOR: huge declared lengths are decode_error without pre-allocation",
          "[memory][cmw]") {
  for (const auto& [name, in] : kHugeHeads) {
    INFO(name);
    Outcome o = measure([&] { return outcome_of(exattest::cmw::decode_cbor(in)); });
    EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
    Outcome e = measure([&] { return outcome_of(exattest::tpm2::decode_evidence(in)); });
    EXPECT_BOUNDED(e, Reason::kDecodeError, in.size());
  }
}

TEST_CASE("CMW CBOR: 1 MiB of nested arrays is decode_error (depth) within budget",
          "[memory][cmw]") {
  Bytes in = repeat(kMiB - 1, 0x81);  // [[[[ ... 0 ]]]]
  in.push_back(0x00);
  Outcome o = measure([&] { return outcome_of(exattest::cmw::decode_cbor(in)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
  Outcome e = measure([&] { return outcome_of(exattest::tpm2::decode_evidence(in)); });
  EXPECT_BOUNDED(e, Reason::kDecodeError, in.size());
  Outcome r = measure([&] {
    return outcome_of(exattest::cmw::decode_evidence_record(in, exattest::cmw::kTpm2QuoteMediaType));
  });
  EXPECT_BOUNDED(r, Reason::kDecodeError, in.size());
}

TEST_CASE("CMW CBOR: 1 MiB flat array of small items stays within budget", "[memory][cmw]") {
  // One array head with 2^20 - 5 one-byte items: more items than the limit allows.
  Bytes in = {0x9a, 0x00, 0x0f, 0xff, 0xfb};
  in.resize(kMiB, 0x00);
  Outcome o = measure([&] { return outcome_of(exattest::cmw::decode_cbor(in)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
}

TEST_CASE("TPM evidence: unknown key holding a huge declared array is decode_error",
          "[memory][tpm2]") {
  // { 8: [2^64-1 items...] } — unknown keys are "skipped after a well-formedness check".
  Bytes in = {0xa1, 0x08, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Outcome o = measure([&] { return outcome_of(exattest::tpm2::decode_evidence(in)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
}

TEST_CASE("TPM evidence: a 1 MiB PCR value list is parsed within budget", "[memory][tpm2]") {
  // Valid shape: keys 1..3 small, key 4 = 2^15 PCR values of 30 bytes (just under 1 MiB).
  exattest::tpm2::EvidenceParts p;
  p.attest = {1};
  p.signature = {2};
  p.ak_public = {3};
  p.pcr_values.assign(32 * 1024, Bytes(29, 0x77));
  p.tree = exattest::tpm2::TreePosition{};  // key 7, required (PROTOCOL.md §6.1)
  Bytes in = exattest::tpm2::encode_evidence(p);
  REQUIRE(in.size() < kMiB);
  Outcome o = measure([&] { return outcome_of(exattest::tpm2::decode_evidence(in)); });
  // Accepted: the decoder's output (a vector of 2^15 vectors) legitimately costs more
  // than the input, but stays a small multiple of it.
  INFO("peak " << o.peak);
  REQUIRE(o.exited);
  CHECK(o.reason == 0);
  CHECK(o.peak <= budget(in.size(), 8));
}

// ---------------------------------------------------------------------------------------
// JSON: CMW codec and the policy file
// ---------------------------------------------------------------------------------------

TEST_CASE("CMW JSON: 1 MiB of nested arrays is decode_error within budget", "[memory][cmw]") {
  std::string in(kMiB, '[');
  Outcome o = measure([&] { return outcome_of(exattest::cmw::decode_json(in)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
  std::string objs;
  while (objs.size() + 6 < kMiB) objs += "{\"a\":";
  Outcome p = measure([&] { return outcome_of(exattest::cmw::decode_json(objs)); });
  EXPECT_BOUNDED(p, Reason::kDecodeError, objs.size());
}

TEST_CASE("CMW JSON: 1 MiB flat array of numbers is decode_error within budget",
          "[memory][cmw]") {
  std::string in = "[";
  while (in.size() + 3 < kMiB) in += "0,";
  in += "0]";
  Outcome o = measure([&] { return outcome_of(exattest::cmw::decode_json(in)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
}

TEST_CASE("Policy JSON: 1 MiB of nested arrays is policy_error within budget",
          "[memory][policy]") {
  std::string in(kMiB, '[');
  Outcome o = measure([&] { return outcome_of(exattest::tpm2::load_policy_json(in)); });
  EXPECT_BOUNDED(o, Reason::kPolicyError, in.size());
  std::string nested = "{\"version\":1,\"x\":";
  while (nested.size() + 5 < kMiB) nested += "{\"a\":";
  Outcome p = measure([&] { return outcome_of(exattest::tpm2::load_policy_json(nested)); });
  EXPECT_BOUNDED(p, Reason::kPolicyError, nested.size());
}

TEST_CASE("Policy JSON: 1 MiB flat array is policy_error within budget", "[memory][policy]") {
  std::string in = "{\"version\":1,\"unknown\":[";
  while (in.size() + 3 < kMiB) in += "0,";
  in += "0]}";
  Outcome o = measure([&] { return outcome_of(exattest::tpm2::load_policy_json(in)); });
  EXPECT_BOUNDED(o, Reason::kPolicyError, in.size());
}

// ---------------------------------------------------------------------------------------
// TLS vectors: requests, authenticators, tls_flags, TPM structures
// ---------------------------------------------------------------------------------------

TEST_CASE("Requests: declared lengths beyond the input are decode_error within budget",
          "[memory][ea]") {
  // CertificateRequest claiming 16 MiB - 1 of body, then a context claiming 255 bytes.
  Bytes in = {13, 0xff, 0xff, 0xff, 0xff};
  Outcome o = measure([&] { return outcome_of(exattest::ea::parse_request(in, 13)); });
  EXPECT_BOUNDED(o, Reason::kDecodeError, in.size());
  // A 1 MiB request of 2^18 unknown empty extensions (duplicates: decode_error).
  exattest::wire::Writer w;
  w.u8(13);
  w.prefixed_u24([](exattest::wire::Writer& b) {
    b.prefixed_u8([](exattest::wire::Writer&) {});
    b.prefixed_u16([](exattest::wire::Writer& e) {
      for (int i = 0; i < 16000; ++i) {
        e.u16(static_cast<uint16_t>(0x4000 + i));
        e.u16(0);
      }
    });
  });
  REQUIRE(w.ok());
  Bytes many = w.take();
  Outcome m = measure([&] { return outcome_of(exattest::ea::parse_request(many, 13)); });
  // 16000 distinct unknown extensions, no signature_algorithms.
  EXPECT_BOUNDED(m, Reason::kDecodeError, many.size());
}

TEST_CASE("Authenticators: huge declared lengths and 1 MiB of empty entries are bounded",
          "[memory][ea]") {
  auto pair = exattest::test::TlsPair::make();
  // Built before the fork: a request sent, so validate() gets past the context lookup.
  exattest::ea::Connection client(pair->client.get());
  auto req = client.create_request(true);
  REQUIRE(req.ok());
  auto ctx = exattest::ea::get_context(*req);
  REQUIRE(ctx.ok());

  Bytes huge = {11, 0xff, 0xff, 0xff};
  Outcome h = measure([&] {
    return outcome_of(client.validate(*req, huge, pair->trust.get()));
  });
  EXPECT_BOUNDED(h, Reason::kDecodeError, huge.size());

  // Certificate(ctx, 2^18 - small empty CertificateEntries) || garbage CV || Finished.
  exattest::wire::Writer w;
  w.u8(11);
  w.prefixed_u24([&](exattest::wire::Writer& b) {
    b.prefixed_u8([&](exattest::wire::Writer& c) { c.bytes(*ctx); });
    b.prefixed_u24([](exattest::wire::Writer& l) {
      for (int i = 0; i < 170000; ++i) {
        l.u24(1);
        l.u8(0x30);
        l.u16(0);
      }
    });
  });
  w.u8(15);
  w.prefixed_u24([](exattest::wire::Writer& b) {
    b.u16(0x0403);
    b.prefixed_u16([](exattest::wire::Writer& s) { s.u8(0); });
  });
  w.u8(20);
  w.prefixed_u24([](exattest::wire::Writer& b) { b.bytes(Bytes(48, 0)); });
  REQUIRE(w.ok());
  Bytes entries = w.take();
  REQUIRE(entries.size() < kMiB + 1024);
  Outcome e = measure([&] {
    return outcome_of(client.validate(*req, entries, pair->trust.get()));
  });
  EXPECT_BOUNDED(e, Reason::kDecodeError, entries.size());
}

TEST_CASE("tls_flags: the largest body is parsed within budget", "[memory][hooks]") {
  Bytes in(256, 0);
  in[0] = 255;
  in[255] = 0x80;
  Outcome o = measure([&] { return outcome_of(exattest::hooks::decode_flags(in)); });
  EXPECT_BOUNDED(o, Reason::kNone, in.size());
  in[255] = 0;  // trailing zero octet: not minimal
  Outcome z = measure([&] { return outcome_of(exattest::hooks::decode_flags(in)); });
  EXPECT_BOUNDED(z, Reason::kDecodeError, in.size());
}

TEST_CASE("TPM structures: huge counts and sizes are decode_error within budget",
          "[memory][tpm2]") {
  namespace t = exattest::tpm2;
  // TPMS_ATTEST whose TPML_PCR_SELECTION.count is 2^32-1.
  exattest::wire::Writer w;
  w.u32(t::kTpmGeneratedValue);
  w.u16(t::kStAttestQuote);
  w.u16(0);           // qualifiedSigner
  w.u16(0);           // extraData
  w.bytes(Bytes(17, 0));  // clockInfo
  w.u64(0);           // firmwareVersion
  w.u32(0xffffffff);  // count
  Bytes attest = w.take();
  Outcome a = measure([&] { return outcome_of(t::parse_quote_attest(attest)); });
  EXPECT_BOUNDED(a, Reason::kDecodeError, attest.size());
  // 1 MiB TPMS_ATTEST with 2^16 selections would be more than TPM2 allows (HASH_COUNT).
  exattest::wire::Writer big;
  big.bytes(attest.data() == nullptr ? Bytes{} : Bytes(attest.begin(), attest.end() - 4));
  big.u32(200000);
  for (int i = 0; i < 200000; ++i) {
    big.u16(0x000b);
    big.u8(3);
    big.bytes(Bytes{0xff, 0xff, 0xff});
  }
  Bytes b = big.take();
  Outcome s = measure([&] { return outcome_of(t::parse_quote_attest(b)); });
  EXPECT_BOUNDED(s, Reason::kDecodeError, b.size());
  // TPMT_SIGNATURE whose TPM2B sizes exceed the input.
  Bytes sig = {0x00, 0x18, 0x00, 0x0b, 0xff, 0xff};
  Outcome g = measure([&] { return outcome_of(t::parse_signature(sig)); });
  EXPECT_BOUNDED(g, Reason::kDecodeError, sig.size());
  // TPMT_PUBLIC (RSA) with a 64 KiB unique.rsa modulus.
  exattest::wire::Writer p;
  p.u16(t::kAlgRsa);
  p.u16(0x000b);
  p.u32(0x00050472);
  p.u16(0);
  p.u16(t::kAlgNull);
  p.u16(t::kAlgRsassa);
  p.u16(0x000b);
  p.u16(2048);
  p.u32(0);
  p.u16(0xffff);
  p.bytes(Bytes(0xffff, 0xff));
  Bytes pub = p.take();
  Outcome u = measure([&] {
    auto r = t::parse_public(pub);
    if (!r.ok()) return outcome_of(r);
    return outcome_of(t::public_to_pkey(*r));
  });
  EXPECT_BOUNDED(u, Reason::kDecodeError, pub.size());
}

// ---------------------------------------------------------------------------------------
// Regressions for the fixes these bounds forced (outside the fork: exact reasons/details)
// ---------------------------------------------------------------------------------------

TEST_CASE("Regression: duplicate request extensions are still decode_error", "[memory][ea]") {
  Bytes ctx(32, 1);
  auto req = exattest::ea::encode_request(13, ctx, {0x0403}, true, 0xff00,
                                          {{0x4444, {}}, {0x4444, {}}});
  REQUIRE(req.ok());
  auto r = exattest::ea::parse_request(*req, 13);
  REQUIRE(!r.ok());
  CHECK(r.reason() == Reason::kDecodeError);
  CHECK(r.error().detail == "request: duplicate extension 17476");
  // Distinct types up to 0xffff are fine.
  auto ok = exattest::ea::encode_request(13, ctx, {0x0403}, true, 0xff00, {{0xffff, {}}});
  REQUIRE(ok.ok());
  CHECK(exattest::ea::parse_request(*ok, 13).ok());
}

// An authenticator whose Certificate has `entries` entries of `exts` extensions each; the
// messages after it are garbage (parsing fails at the Certificate first).
Bytes certificate_with(ByteView ctx, int entries, int exts, uint16_t first_type = 0x5000) {
  exattest::wire::Writer w;
  w.u8(11);
  w.prefixed_u24([&](exattest::wire::Writer& b) {
    b.prefixed_u8([&](exattest::wire::Writer& c) { c.bytes(ctx); });
    b.prefixed_u24([&](exattest::wire::Writer& l) {
      for (int i = 0; i < entries; ++i) {
        l.u24(1);
        l.u8(0x30);
        l.prefixed_u16([&](exattest::wire::Writer& x) {
          for (int j = 0; j < exts; ++j) {
            x.u16(static_cast<uint16_t>(first_type + j));
            x.u16(0);
          }
        });
      }
    });
  });
  w.u8(15);
  w.prefixed_u24([](exattest::wire::Writer& b) {
    b.u16(0x0403);
    b.prefixed_u16([](exattest::wire::Writer& s) { s.u8(0); });
  });
  w.u8(20);
  w.prefixed_u24([](exattest::wire::Writer& b) { b.bytes(Bytes(48, 0)); });
  REQUIRE(w.ok());
  return w.take();
}

TEST_CASE("Regression: CertificateEntry count and extension count limits", "[memory][ea]") {
  auto pair = exattest::test::TlsPair::make();
  auto run = [&](int entries, int exts, uint16_t first_type = 0x5000) {
    exattest::ea::Connection client(pair->client.get());
    auto req = client.create_request(true);
    REQUIRE(req.ok());
    auto ctx = exattest::ea::get_context(*req);
    REQUIRE(ctx.ok());
    return client.validate(*req, certificate_with(*ctx, entries, exts, first_type),
                           pair->trust.get());
  };
  auto many = run(101, 0);
  REQUIRE(!many.ok());
  CHECK(many.reason() == Reason::kDecodeError);
  CHECK(many.error().detail == "Certificate: more than 100 CertificateEntries");
  auto wide = run(1, 33);
  REQUIRE(!wide.ok());
  CHECK(wide.reason() == Reason::kDecodeError);
  CHECK(wide.error().detail == "CertificateEntry: more than 32 extensions");
  // At the limits the parser goes on to the certificates (0x30 alone is no certificate).
  auto at_limit = run(100, 32);
  REQUIRE(!at_limit.ok());
  CHECK(at_limit.reason() == Reason::kDecodeError);
  CHECK(at_limit.error().detail.find("cert_data") != std::string::npos);
  // Duplicates are still found with the sorted check.
  exattest::ea::Connection client(pair->client.get());
  auto req = client.create_request(true);
  REQUIRE(req.ok());
  auto ctx = exattest::ea::get_context(*req);
  REQUIRE(ctx.ok());
  Bytes dup = certificate_with(*ctx, 1, 2);
  // Make the second extension's type equal the first's (0x5000 0x5001 -> 0x5000 0x5000).
  const Bytes second = {0x50, 0x01};
  auto pos = std::search(dup.begin(), dup.end(), second.begin(), second.end());
  REQUIRE(pos != dup.end());
  pos[1] = 0x00;
  auto d = client.validate(*req, dup, pair->trust.get());
  REQUIRE(!d.ok());
  CHECK(d.reason() == Reason::kDecodeError);
  CHECK(d.error().detail == "CertificateEntry: duplicate extension 20480");
}

Bytes rsa_public_with(uint16_t key_bits, const Bytes& n) {
  namespace t = exattest::tpm2;
  exattest::wire::Writer p;
  p.u16(t::kAlgRsa);
  p.u16(0x000b);
  p.u32(0x00050472);
  p.u16(0);
  p.u16(t::kAlgNull);
  p.u16(t::kAlgRsassa);
  p.u16(0x000b);
  p.u16(key_bits);
  p.u32(0);
  p.prefixed_u16([&](exattest::wire::Writer& u) { u.bytes(n); });
  return p.take();
}

TEST_CASE("Regression: TPMT_PUBLIC RSA modulus must match keyBits", "[memory][tpm2]") {
  namespace t = exattest::tpm2;
  auto key = exattest::test::make_key(exattest::test::KeyType::kRsa2048);
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key.get(), "n", &bn) == 1);
  Bytes n(256);
  REQUIRE(BN_bn2binpad(bn, n.data(), 256) == 256);
  BN_free(bn);
  auto good = t::parse_public(rsa_public_with(2048, n));
  REQUIRE(good.ok());
  CHECK(t::public_to_pkey(*good).ok());

  auto wrong_bits = t::parse_public(rsa_public_with(4096, n));
  REQUIRE(wrong_bits.ok());  // the structure parses; the key does not
  auto k1 = t::public_to_pkey(*wrong_bits);
  REQUIRE(!k1.ok());
  CHECK(k1.reason() == Reason::kDecodeError);
  CHECK(k1.error().detail == "TPMT_PUBLIC unique.rsa is 256 bytes, not a 4096-bit modulus (keyBits)");

  auto odd = t::parse_public(rsa_public_with(2047, n));
  REQUIRE(odd.ok());
  auto k2 = t::public_to_pkey(*odd);
  REQUIRE(!k2.ok());
  CHECK(k2.error().detail ==
        "TPMT_PUBLIC keyBits 2047 is not an RSA size a TPM uses (1024, 2048, 3072, 4096)");

  Bytes shortn(n.begin() + 1, n.end());
  shortn.insert(shortn.begin(), 0x00);  // 256 bytes, top bit clear: a 2040-bit number
  auto short_pub = t::parse_public(rsa_public_with(2048, shortn));
  REQUIRE(short_pub.ok());
  auto k3 = t::public_to_pkey(*short_pub);
  REQUIRE(!k3.ok());
  CHECK(k3.reason() == Reason::kDecodeError);
}

TEST_CASE("Regression: policy size, depth and value limits, and /dev/zero as a policy",
          "[memory][policy]") {
  namespace t = exattest::tpm2;
  std::string aks = R"({"version":1,"trusted_aks":["sha256:)" + std::string(64, 'a') + "\"]";
  auto ok = t::load_policy_json(aks + R"(,"pcrs":{"0":")" + std::string(64, '0') + R"("}})");
  CHECK(ok.ok());
  auto deep = t::load_policy_json(aks + R"(,"x":[[[[1]]]]})");
  REQUIRE(!deep.ok());
  CHECK(deep.reason() == Reason::kPolicyError);
  CHECK(deep.error().detail ==
        "policy: JSON nested deeper than 4 levels; a policy is an object of arrays, objects "
        "and scalars");
  // Brackets inside strings do not count.
  auto quoted = t::load_policy_json(aks + R"(,"pcr_bank":"[[[[[["})");
  REQUIRE(!quoted.ok());
  CHECK(quoted.error().detail.find("pcr_bank") != std::string::npos);
  std::string wide = aks + R"(,"x":[0)";
  for (int i = 0; i < 5000; ++i) wide += ",0";
  auto w = t::load_policy_json(wide + "]}");
  REQUIRE(!w.ok());
  CHECK(w.error().detail ==
        "policy: more than 4096 JSON values; a policy lists at most a few thousand trusted AKs");
  auto z = t::load_policy_file("/dev/zero");
  REQUIRE(!z.ok());
  CHECK(z.reason() == Reason::kPolicyError);
  CHECK(z.error().detail == "/dev/zero: policy: the file is larger than 1048576 bytes");
}

// ---------------------------------------------------------------------------------------
// In-band frames (PROTOCOL.md §5)
// ---------------------------------------------------------------------------------------

// A Machine (client, request = require) that has sent its REQUEST and read the server's
// empty one, so it waits for an AUTHENTICATOR frame.
class NullCrypto : public exattest::inband::Crypto {
 public:
  exattest::Result<Bytes> make_request() override { return Bytes{'Q'}; }
  exattest::Result<bool> accept_request(ByteView) override { return true; }
  exattest::Result<Bytes> own_binding(ByteView) override { return Bytes(48, 0); }
  exattest::Result<Bytes> make_authenticator(ByteView, ByteView) override { return Bytes{'A'}; }
  exattest::Result<Bytes> make_empty_authenticator(ByteView) override { return Bytes{'R'}; }
  exattest::Result<Validated> validate(ByteView, ByteView) override {
    return exattest::make_error(Reason::kBadFinished, "null crypto");
  }
};
class NullAppraiser : public exattest::Appraiser {
 public:
  exattest::Verdict appraise(ByteView, ByteView) override { return {}; }
};

struct Waiting {
  NullCrypto crypto;
  NullAppraiser appraiser;
  std::unique_ptr<exattest::inband::Machine> m;
  Waiting() {
    exattest::inband::Deps d;
    d.role = exattest::inband::Role::kClient;
    d.request = exattest::Config::Request::kRequire;
    d.crypto = &crypto;
    d.appraiser = &appraiser;
    m = std::make_unique<exattest::inband::Machine>(std::move(d));
    for (;;) {
      auto a = m->next();
      if (a.kind != exattest::inband::Action::Kind::kWrite) break;
      m->wrote(a.write.size());
    }
    Bytes empty_request = {1, 0, 0, 0};
    REQUIRE(m->next().kind == exattest::inband::Action::Kind::kRead);
    REQUIRE(m->feed(empty_request).ok());
    REQUIRE(m->next().kind == exattest::inband::Action::Kind::kRead);
  }
};

TEST_CASE("In-band: a header beyond the limit is protocol_error before any allocation",
          "[memory][inband]") {
  Waiting w;
  Bytes header = {2, 0x10, 0x00, 0x01};  // AUTHENTICATOR of 1 MiB + 1
  Outcome o = measure([&] {
    (void)w.m->feed(header);
    // The failure shows after our RESULT(rejected) is written.
    for (;;) {
      auto a = w.m->next();
      if (a.kind == exattest::inband::Action::Kind::kWrite) {
        w.m->wrote(a.write.size());
        continue;
      }
      if (a.kind == exattest::inband::Action::Kind::kFailed)
        return std::make_pair(a.error.reason, a.error.detail);
      return std::make_pair(Reason::kNone, std::string("did not fail"));
    }
  });
  EXPECT_BOUNDED(o, Reason::kProtocolError, header.size());
}

TEST_CASE("In-band: a maximum-size AUTHENTICATOR header does not allocate its body up front",
          "[memory][inband]") {
  // Regression: feed() used to reserve the announced length when the header arrived, so 4
  // bytes made the connection hold 1 MiB while the peer sent nothing more.
  Waiting w;
  Bytes header = {2, 0x10, 0x00, 0x00};  // AUTHENTICATOR of exactly 1 MiB, body never sent
  Outcome o = measure([&] {
    Reason r = w.m->feed(header).reason();
    return std::make_pair(r, std::string("header accepted, waiting for the body"));
  });
  WARN("peak after a 1 MiB AUTHENTICATOR header: " << o.peak << " bytes");
  EXPECT_BOUNDED(o, Reason::kNone, header.size());
}

}  // namespace
