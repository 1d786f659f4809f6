#include "attesters/tpm2/attester.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <chrono>
#include <mutex>
#include <thread>
#include <optional>
#include <utility>

#include "attesters/tpm2/binding_tree.h"
#include "attesters/tpm2/esys_ptr.h"
#include "attesters/tpm2/factory.h"
#include "attesters/tpm2/tpm_structs.h"
#include "common/ossl_ptr.h"

namespace exattest::tpm2 {
namespace {

constexpr int kQuoteAttempts = 3;
// TPM2_PCR_Read returns at most 8 digests per call (TPML_DIGEST); 24 PCRs x 4 banks fit in 12.
constexpr int kMaxPcrReadCalls = 16;

// One mutex for every ESYS call in the process: contexts for different TCTIs could run in
// parallel, but quotes are rare and short, and one lock makes the fork handlers trivial.
std::mutex& esys_mutex() {
  static std::mutex* mu = new std::mutex;  // never destroyed: usable during exit
  return *mu;
}

// Contexts inherited from a parent process. They share the parent's TCTI socket, so they are
// never used nor finalized (Finalize could write to that socket); kept reachable on purpose.
struct Orphan {
  TSS2_TCTI_CONTEXT* tcti;
  ESYS_CONTEXT* esys;
};
std::vector<Orphan>& orphans() {
  static auto* v = new std::vector<Orphan>;
  return *v;
}

void process_setup_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // tpm2-tss logs ERRORs to stderr by default (e.g. on connection refused); the provider
    // reports failures through the OpenSSL error queue instead. Respect a user's TSS2_LOG.
    setenv("TSS2_LOG", "all+NONE", /*overwrite=*/0);
    // A child forked while another thread held the ESYS lock would otherwise deadlock.
    pthread_atfork([] { esys_mutex().lock(); }, [] { esys_mutex().unlock(); },
                   [] { esys_mutex().unlock(); });
  });
}

std::string rc_text(TSS2_RC rc) {
  const char* s = Tss2_RC_Decode(rc);
  char code[16];
  std::snprintf(code, sizeof(code), "0x%08x", rc);
  return std::string(s ? s : "unknown error") + ", rc " + code;
}

bool is_tpm_response(TSS2_RC rc) { return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER; }

// A TPM without a resource manager (swtpm, /dev/tpm0) has a few transient-object slots shared
// by every process: while other processes hold theirs for a quote, loading or creating the AK
// gets TPM_RC_OBJECT_MEMORY (or RETRY/YIELDED). Those are warnings that clear as soon as the
// others flush, so wait a little and try again (20 tries, about half a second in all).
template <class F>
TSS2_RC retry_while_busy(F&& call) {
  TSS2_RC rc = TSS2_RC_SUCCESS;
  for (int attempt = 0;; ++attempt) {
    rc = call();
    bool busy = rc == TPM2_RC_OBJECT_MEMORY || rc == TPM2_RC_MEMORY || rc == TPM2_RC_RETRY ||
                rc == TPM2_RC_YIELDED;
    if (!busy || attempt == 19) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 5 * attempt / 2));
  }
}

// The AK's saved context (TPM2_ContextSave output, as ESAPI serialises it): plain data that
// any later ESYS context of this TPM can load again; released with Esys_Free.
struct SavedContextDeleter {
  void operator()(TPMS_CONTEXT* p) const { Esys_Free(p); }
};
using SavedContext = std::unique_ptr<TPMS_CONTEXT, SavedContextDeleter>;

using PcrValues = std::map<std::pair<uint16_t, uint32_t>, Bytes>;

// Flushes a transient object when it goes out of scope, on every path.
class FlushGuard {
 public:
  FlushGuard(ESYS_CONTEXT* ctx, ESYS_TR handle) : ctx_(ctx), handle_(handle) {}
  ~FlushGuard() {
    if (handle_ != ESYS_TR_NONE) (void)Esys_FlushContext(ctx_, handle_);
  }
  FlushGuard(const FlushGuard&) = delete;
  FlushGuard& operator=(const FlushGuard&) = delete;

 private:
  ESYS_CONTEXT* ctx_;
  ESYS_TR handle_;
};

template <class T, class F>
Result<Bytes> marshal(const T& v, F fn) {
  Bytes out(sizeof(T) + 16);
  size_t off = 0;
  TSS2_RC rc = fn(&v, out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) {
    return make_error(Reason::kAttesterUnavailable,
                      "cannot marshal TPM output (" + rc_text(rc) + ")");
  }
  out.resize(off);
  return out;
}

}  // namespace

struct Tpm2Attester::Impl {
  Tpm2Config cfg;
  pid_t pid = 0;
  // Order matters: esys is destroyed before the TCTI it uses.
  UniquePtr<TSS2_TCTI_CONTEXT> tcti;
  UniquePtr<ESYS_CONTEXT> esys;
  bool broken = false;  // a TCTI/ESYS-level failure: reopen before the next call
  std::optional<AkInfo> ak_cache;
  pid_t ak_cache_pid = 0;
  // Steady state of quote(): TPM2_ContextLoad of the AK saved after its first creation (much
  // cheaper than TPM2_CreatePrimary, and the loaded copy is flushed after use as before), and
  // no TPM2_PCR_Read while the quoted pcrDigest matches the values read last time.
  SavedContext ak_context;
  Bytes ak_context_public;  // marshaled TPMT_PUBLIC of the AK in ak_context
  PcrValues pcr_cache;      // last values read for cfg.pcrs (a hint, checked against pcrDigest)
  Tpm2Attester::Counters counters;

  std::string tcti_name() const { return cfg.tcti.empty() ? "(tctildr default)" : cfg.tcti; }
  std::string fix() const { return "set `tcti` in [exattest_sect] or EXATTEST_TCTI"; }

  // A failed ESYS/TCTI call. Anything that is not a TPM response code (I/O, marshaling,
  // ESYS state) leaves the context unusable, so it is reopened on next use (not here: a
  // FlushGuard may still hold it).
  Error fail(const char* command, TSS2_RC rc) {
    if (!is_tpm_response(rc)) broken = true;
    return make_error(Reason::kAttesterUnavailable,
                      std::string(command) + " failed at tcti=" + tcti_name() + " (" + rc_text(rc) +
                          "); check that the TPM is running, or " + fix());
  }

  void close_locked() {
    if (pid != getpid() && (tcti || esys)) {
      orphans().push_back({tcti.release(), esys.release()});
    }
    esys.reset();
    tcti.reset();
    broken = false;
  }

  Status open_locked() {
    if (esys && pid == getpid() && !broken) return Status::Ok();
    close_locked();  // inherited from a parent: abandoned, never reused
    TSS2_TCTI_CONTEXT* raw_tcti = nullptr;
    TSS2_RC rc = Tss2_TctiLdr_Initialize(cfg.tcti.empty() ? nullptr : cfg.tcti.c_str(), &raw_tcti);
    if (rc != TSS2_RC_SUCCESS) {
      return make_error(Reason::kAttesterUnavailable,
                        "no TPM at tcti=" + tcti_name() + " (" + rc_text(rc) +
                            "; is the TPM or swtpm running?); " + fix());
    }
    UniquePtr<TSS2_TCTI_CONTEXT> t(raw_tcti);
    ESYS_CONTEXT* raw_esys = nullptr;
    rc = Esys_Initialize(&raw_esys, t.get(), nullptr);
    if (rc != TSS2_RC_SUCCESS) {
      return make_error(
          Reason::kAttesterUnavailable,
          "cannot initialize ESAPI on tcti=" + tcti_name() + " (" + rc_text(rc) + "); " + fix());
    }
    tcti = std::move(t);
    esys.reset(raw_esys);
    pid = getpid();
    return Status::Ok();
  }

  // PROTOCOL.md §6: "The default AK is the primary key of the endorsement hierarchy created
  // from exactly this template". The caller flushes the returned handle (FlushGuard).
  Status create_ak_locked(ESYS_TR& out_handle, UniquePtr<TPM2B_PUBLIC>& out_public) {
    out_handle = ESYS_TR_NONE;
    TPM2B_SENSITIVE_CREATE sensitive{};  // "empty sensitive data"
    TPM2B_PUBLIC in_public = ak_template(cfg.ak_alg);
    TPM2B_DATA outside_info{};          // "empty outsideInfo"
    TPML_PCR_SELECTION creation_pcr{};  // "and creationPCR"
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* creation_data = nullptr;
    TPM2B_DIGEST* creation_hash = nullptr;
    TPMT_TK_CREATION* creation_ticket = nullptr;
    TSS2_RC rc = retry_while_busy([&] {
      return Esys_CreatePrimary(esys.get(), ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &in_public, &outside_info,
                                &creation_pcr, &out_handle, &pub, &creation_data, &creation_hash,
                                &creation_ticket);
    });
    ++counters.create_primary;
    UniquePtr<TPM2B_PUBLIC> pub_owned(pub);
    UniquePtr<TPM2B_CREATION_DATA> cd_owned(creation_data);
    UniquePtr<TPM2B_DIGEST> ch_owned(creation_hash);
    UniquePtr<TPMT_TK_CREATION> ct_owned(creation_ticket);
    if (rc != TSS2_RC_SUCCESS) {
      out_handle = ESYS_TR_NONE;
      Error e = fail("TPM2_CreatePrimary(endorsement AK)", rc);
      if (is_tpm_response(rc)) {
        e.detail += "; the endorsement hierarchy must have an empty auth value";
      }
      return e;
    }
    if (!pub_owned) {
      return make_error(Reason::kAttesterUnavailable, "TPM2_CreatePrimary returned no public area");
    }
    out_public = std::move(pub_owned);
    return Status::Ok();
  }

  // Loads the AK as a transient object the caller flushes (FlushGuard), with its marshaled
  // TPMT_PUBLIC. The first call creates it (TPM2_CreatePrimary) and saves its context; later
  // calls only TPM2_ContextLoad that saved context. An object context stays loadable any number
  // of times until the TPM stops accepting it (TPM Reset of some TPMs, a changed endorsement
  // seed or hierarchy proof, another TPM behind the same TCTI): any TPM error there drops the
  // saved context and falls back to TPM2_CreatePrimary, which yields the right key either way.
  Status load_ak_locked(ESYS_TR& out_handle, Bytes& out_public) {
    out_handle = ESYS_TR_NONE;
    if (ak_context) {
      ESYS_TR loaded = ESYS_TR_NONE;
      TSS2_RC rc =
          retry_while_busy([&] { return Esys_ContextLoad(esys.get(), ak_context.get(), &loaded); });
      ++counters.context_load;
      if (rc == TSS2_RC_SUCCESS) {
        out_handle = loaded;
        out_public = ak_context_public;
        return Status::Ok();
      }
      if (!is_tpm_response(rc)) return fail("TPM2_ContextLoad(AK)", rc);
      ak_context.reset();
      ak_context_public.clear();
    }
    UniquePtr<TPM2B_PUBLIC> pub;
    EXATTEST_RETURN_IF_ERROR(create_ak_locked(out_handle, pub));
    auto bytes = marshal(pub->publicArea, Tss2_MU_TPMT_PUBLIC_Marshal);
    if (!bytes) {
      (void)Esys_FlushContext(esys.get(), out_handle);
      out_handle = ESYS_TR_NONE;
      return bytes.error();
    }
    out_public = bytes.value();
    // For an object, TPM2_ContextSave leaves it loaded. Failing to save only costs the next
    // quote a TPM2_CreatePrimary; a broken connection shows up in the quote itself.
    TPMS_CONTEXT* saved = nullptr;
    if (Esys_ContextSave(esys.get(), out_handle, &saved) == TSS2_RC_SUCCESS && saved) {
      ak_context.reset(saved);
      ak_context_public = std::move(bytes.value());
    } else {
      Esys_Free(saved);
    }
    return Status::Ok();
  }

  // Reads `sel` with as many TPM2_PCR_Read calls as needed; values keyed by (bank, index).
  // All calls must see the same pcrUpdateCounter; otherwise the whole read starts over.
  Result<PcrValues> read_pcr_map_locked(
      const PcrSelection& sel) {
    const TPML_PCR_SELECTION want = to_tpml_pcr_selection(sel);
    for (int attempt = 0; attempt < kQuoteAttempts; ++attempt) {
      PcrValues values;
      TPML_PCR_SELECTION remaining = want;
      std::optional<uint32_t> counter;
      bool restart = false;
      for (int call = 0; call < kMaxPcrReadCalls; ++call) {
        bool any = false;
        for (uint32_t b = 0; b < remaining.count; ++b) {
          for (uint8_t byte : remaining.pcrSelections[b].pcrSelect) any = any || byte != 0;
        }
        if (!any) break;
        uint32_t update_counter = 0;
        TPML_PCR_SELECTION* sel_out = nullptr;
        TPML_DIGEST* digests = nullptr;
        TSS2_RC rc = Esys_PCR_Read(esys.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &remaining,
                                   &update_counter, &sel_out, &digests);
        UniquePtr<TPML_PCR_SELECTION> sel_owned(sel_out);
        UniquePtr<TPML_DIGEST> dig_owned(digests);
        ++counters.pcr_read;
        if (rc != TSS2_RC_SUCCESS) return fail("TPM2_PCR_Read", rc);
        if (counter && *counter != update_counter) {
          restart = true;
          break;
        }
        counter = update_counter;
        uint32_t d = 0;
        bool progressed = false;
        for (uint32_t b = 0; b < sel_owned->count; ++b) {
          const TPMS_PCR_SELECTION& s = sel_owned->pcrSelections[b];
          for (uint32_t i = 0; i < 8u * s.sizeofSelect && i <= kMaxPcrIndex; ++i) {
            if (!(s.pcrSelect[i / 8] & (1u << (i % 8)))) continue;
            if (d >= dig_owned->count) {
              return make_error(Reason::kAttesterUnavailable,
                                "TPM2_PCR_Read returned fewer digests than PCRs selected");
            }
            const TPM2B_DIGEST& v = dig_owned->digests[d++];
            if (v.size != hash_alg_digest_size(s.hash)) {
              return make_error(Reason::kAttesterUnavailable,
                                "TPM2_PCR_Read returned a digest of the wrong size");
            }
            values[{s.hash, i}] = Bytes(v.buffer, v.buffer + v.size);
            progressed = true;
            for (uint32_t r = 0; r < remaining.count; ++r) {
              if (remaining.pcrSelections[r].hash == s.hash) {
                remaining.pcrSelections[r].pcrSelect[i / 8] &=
                    static_cast<uint8_t>(~(1u << (i % 8)));
              }
            }
          }
        }
        // The TPM leaves out PCRs of a bank that is not allocated (or indices it lacks).
        if (!progressed) {
          return make_error(Reason::kAttesterUnavailable,
                            "the TPM at tcti=" + tcti_name() + " does not have PCRs " +
                                format_pcr_selection(sel) +
                                " (bank not allocated?); change `pcrs` in [exattest_sect]");
        }
      }
      if (restart) continue;
      // Every selected PCR must have been returned.
      for (const PcrBank& bank : sel.banks) {
        for (uint32_t i : bank.pcrs) {
          if (!values.count({bank.hash_alg, i})) {
            return make_error(Reason::kAttesterUnavailable,
                              "the TPM did not return PCR " +
                                  std::string(hash_alg_name(bank.hash_alg)) + ":" +
                                  std::to_string(i));
          }
        }
      }
      return values;
    }
    return make_error(Reason::kAttesterUnavailable,
                      "PCRs kept changing while being read; try again");
  }

  Result<AkInfo> ak_info_from_public(const TPMT_PUBLIC& pub) {
    auto tpmt = marshal(pub, Tss2_MU_TPMT_PUBLIC_Marshal);
    EXATTEST_RETURN_IF_ERROR(tpmt);
    auto parsed = parse_public(view(tpmt.value()));
    if (!parsed) {
      return make_error(Reason::kAttesterUnavailable,
                        "TPM returned an unusable AK public area: " + parsed.error().detail);
    }
    auto pkey = public_to_pkey(parsed.value());
    if (!pkey) {
      return make_error(Reason::kAttesterUnavailable,
                        "TPM returned an unusable AK public key: " + pkey.error().detail);
    }
    auto der = spki_der(pkey.value().get());
    EXATTEST_RETURN_IF_ERROR(der);
    auto hash = spki_sha256(pkey.value().get());
    EXATTEST_RETURN_IF_ERROR(hash);
    auto name = public_name(parsed.value());
    EXATTEST_RETURN_IF_ERROR(name);
    UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.value().get()) != 1) {
      return make_error(Reason::kAttesterUnavailable, "cannot PEM-encode the AK public key");
    }
    char* pem = nullptr;
    long pem_len = BIO_get_mem_data(bio.get(), &pem);
    AkInfo info;
    info.spki_der = std::move(der.value());
    info.spki_pem.assign(pem, static_cast<size_t>(pem_len));
    info.spki_sha256 = "sha256:" + to_hex(view(hash.value()));
    info.tpmt_public = std::move(tpmt.value());
    info.name = std::move(name.value());
    return info;
  }

  // PROTOCOL.md §6 key 4: "PCR values, in the order of the quote's pcrSelect (bank, then
  // index)", taken from `values`; empty when `values` lacks one of them. Fills the digest
  // appraisal step 5 computes: "H_sig(concatenated key-4 values)".
  static std::vector<Bytes> values_in_quote_order(const QuoteAttest& attest,
                                                  const PcrValues& values) {
    std::vector<Bytes> out;
    for (const TpmsPcrSelection& bank : attest.pcr_select) {
      for (uint32_t i : bank.indices()) {
        auto it = values.find({bank.hash, i});
        if (it == values.end()) return {};
        out.push_back(it->second);
      }
    }
    return out;
  }

  // True when `ordered` are exactly the values the quote signed: "H_sig(concatenated key-4
  // values) == pcrDigest, where H_sig is the signature's hash" (PROTOCOL.md §6 step 5).
  static Result<bool> matches_digest(const QuoteAttest& attest, uint16_t sig_hash,
                                     const std::vector<Bytes>& ordered) {
    if (ordered.empty()) return false;
    Bytes concat;
    for (const Bytes& v : ordered) concat.insert(concat.end(), v.begin(), v.end());
    auto digest = tpm_hash(sig_hash, view(concat));
    EXATTEST_RETURN_IF_ERROR(digest);
    return digest->size() == attest.pcr_digest.size() &&
           CRYPTO_memcmp(digest->data(), attest.pcr_digest.data(), digest->size()) == 0;
  }

  // One quote attempt's worth of work, with the AK loaded as `ak`: TPM2_Quote, then the PCR
  // values that go with it. The values read for the previous quote are used when the signed
  // pcrDigest proves they are still current (one TPM command per quote in the steady state);
  // otherwise TPM2_PCR_Read, and if a PCR changed between the quote and that read, the caller
  // quotes again. Either way the values sent are exactly the ones the AK signed.
  Result<std::optional<EvidenceParts>> quote_once_locked(ESYS_TR ak, const Bytes& ak_public,
                                                         ByteView root) {
    // PROTOCOL.md §6: "The quote's qualifyingData is the 32-byte root of §6.1, never the raw
    // binding".
    TPM2B_DATA qualifying{};
    static_assert(kTreeHashSize <= sizeof(qualifying.buffer));
    if (root.size() != kTreeHashSize) {
      return make_error(Reason::kAttesterUnavailable, "binding-tree root is not 32 bytes");
    }
    qualifying.size = static_cast<uint16_t>(root.size());
    std::memcpy(qualifying.buffer, root.data(), root.size());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme (ECDSA/RSASSA with SHA-256)
    TPML_PCR_SELECTION pcr_select = to_tpml_pcr_selection(cfg.pcrs);
    TPM2B_ATTEST* quoted = nullptr;
    TPMT_SIGNATURE* signature = nullptr;
    TSS2_RC rc = Esys_Quote(esys.get(), ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                            &qualifying, &scheme, &pcr_select, &quoted, &signature);
    ++counters.quote;
    UniquePtr<TPM2B_ATTEST> quoted_owned(quoted);
    UniquePtr<TPMT_SIGNATURE> sig_owned(signature);
    if (rc != TSS2_RC_SUCCESS) return fail("TPM2_Quote", rc);

    EvidenceParts parts;
    // PROTOCOL.md §6 key 1: "TPMS_ATTEST, marshaled, exactly the bytes the AK signed (no
    // TPM2B size)".
    parts.attest.assign(quoted_owned->attestationData,
                        quoted_owned->attestationData + quoted_owned->size);
    auto sig_bytes = marshal(*sig_owned, Tss2_MU_TPMT_SIGNATURE_Marshal);
    EXATTEST_RETURN_IF_ERROR(sig_bytes);
    parts.signature = std::move(sig_bytes.value());
    parts.ak_public = ak_public;

    // Self-check what we are about to send, so a TPM oddity never reaches the peer.
    auto attest = parse_quote_attest(view(parts.attest));
    if (!attest) {
      return make_error(Reason::kAttesterUnavailable,
                        "TPM returned a malformed quote: " + attest.error().detail);
    }
    if (attest->extra_data.size() != root.size() ||
        CRYPTO_memcmp(attest->extra_data.data(), root.data(), root.size()) != 0) {
      return make_error(Reason::kAttesterUnavailable,
                        "TPM quote does not carry the requested qualifyingData");
    }
    auto sig = parse_signature(view(parts.signature));
    if (!sig) {
      return make_error(Reason::kAttesterUnavailable,
                        "TPM returned a malformed signature: " + sig.error().detail);
    }
    size_t quoted_pcrs = 0;
    for (const TpmsPcrSelection& bank : attest->pcr_select) quoted_pcrs += bank.indices().size();
    if (quoted_pcrs == 0) {
      return make_error(Reason::kAttesterUnavailable, "TPM quote selects no PCR");
    }

    std::vector<Bytes> ordered = values_in_quote_order(attest.value(), pcr_cache);
    auto cached_ok = matches_digest(attest.value(), sig->hash_alg, ordered);
    EXATTEST_RETURN_IF_ERROR(cached_ok);
    if (!cached_ok.value()) {
      auto values = read_pcr_map_locked(cfg.pcrs);
      EXATTEST_RETURN_IF_ERROR(values);
      pcr_cache = std::move(values.value());
      ordered = values_in_quote_order(attest.value(), pcr_cache);
      if (ordered.empty()) {
        return make_error(Reason::kAttesterUnavailable, "TPM quoted a PCR that was not read");
      }
      auto fresh_ok = matches_digest(attest.value(), sig->hash_alg, ordered);
      EXATTEST_RETURN_IF_ERROR(fresh_ok);
      if (!fresh_ok.value()) return std::optional<EvidenceParts>();  // PCRs changed: retry
    }
    parts.pcr_values = std::move(ordered);
    return std::optional<EvidenceParts>(std::move(parts));
  }
};

Tpm2Attester::Tpm2Attester(Tpm2Config config) : impl_(std::make_unique<Impl>()) {
  process_setup_once();
  impl_->cfg = std::move(config);
}

Tpm2Attester::~Tpm2Attester() {
  std::lock_guard<std::mutex> lock(esys_mutex());
  impl_->close_locked();
}

const Tpm2Config& Tpm2Attester::config() const { return impl_->cfg; }

Tpm2Attester::Counters Tpm2Attester::counters() const {
  std::lock_guard<std::mutex> lock(esys_mutex());
  return impl_->counters;
}

pid_t Tpm2Attester::context_pid() const {
  std::lock_guard<std::mutex> lock(esys_mutex());
  return impl_->esys ? impl_->pid : 0;
}

Result<std::vector<EvidenceParts>> Tpm2Attester::quote_batch(std::span<const ByteView> bindings) {
  // An empty challenge would make the quote replayable: fail closed. Bindings are hashes
  // (32 or 48 bytes, PROTOCOL.md §4); 64 bytes bounds anything that can be one.
  for (ByteView b : bindings) {
    if (b.empty() || b.size() > 64) {
      return make_error(Reason::kAttesterUnavailable,
                        "binding is " + std::to_string(b.size()) +
                            " bytes; a binding-tree leaf is 1..64 bytes");
    }
  }
  // PROTOCOL.md §6.1: "MTH(D[n]) ... qualifyingData = MTH(D[tree_size])".
  auto tree = build_binding_tree(bindings);
  EXATTEST_RETURN_IF_ERROR(tree);
  if (impl_->cfg.pcrs.count() == 0) {
    return make_error(Reason::kAttesterUnavailable,
                      "no PCRs selected; set `pcrs` in [exattest_sect] or EXATTEST_PCRS");
  }
  std::optional<EvidenceParts> quoted;
  {
    std::lock_guard<std::mutex> lock(esys_mutex());
    EXATTEST_RETURN_IF_ERROR(impl_->open_locked());
    ESYS_TR ak = ESYS_TR_NONE;
    Bytes ak_bytes;
    EXATTEST_RETURN_IF_ERROR(impl_->load_ak_locked(ak, ak_bytes));
    FlushGuard flush(impl_->esys.get(), ak);
    for (int attempt = 0; attempt < kQuoteAttempts && !quoted; ++attempt) {
      auto r = impl_->quote_once_locked(ak, ak_bytes, view(tree->root));
      EXATTEST_RETURN_IF_ERROR(r);
      quoted = std::move(r.value());
    }
  }
  if (!quoted) {
    return make_error(Reason::kAttesterUnavailable,
                      "PCRs kept changing between TPM2_Quote and TPM2_PCR_Read (" +
                          std::to_string(kQuoteAttempts) + " attempts); try again");
  }
  // "Each connection's Evidence carries the same quote and its own key 7".
  std::vector<EvidenceParts> out(bindings.size(), *quoted);
  for (size_t i = 0; i < out.size(); ++i) out[i].tree = std::move(tree->positions[i]);
  return out;
}

Result<EvidenceParts> Tpm2Attester::quote(ByteView binding) {
  auto batch = quote_batch(std::span<const ByteView>(&binding, 1));
  EXATTEST_RETURN_IF_ERROR(batch);
  return std::move(batch->front());
}

Result<std::vector<Bytes>> Tpm2Attester::evidence_batch(std::span<const ByteView> bindings) {
  auto parts = quote_batch(bindings);
  EXATTEST_RETURN_IF_ERROR(parts);
  std::vector<Bytes> out;
  out.reserve(parts->size());
  // PROTOCOL.md §6: "[ media type, bstr .cbor tpm2-quote-evidence, 4 ]".
  for (const EvidenceParts& p : *parts) {
    out.push_back(wrap_cmw(view(encode_evidence(p)), impl_->cfg.media_type));
  }
  return out;
}

Result<Bytes> Tpm2Attester::evidence(ByteView binding) {
  auto batch = evidence_batch(std::span<const ByteView>(&binding, 1));
  EXATTEST_RETURN_IF_ERROR(batch);
  return std::move(batch->front());
}

Result<AkInfo> Tpm2Attester::ak_public() {
  std::lock_guard<std::mutex> lock(esys_mutex());
  if (impl_->ak_cache && impl_->ak_cache_pid == getpid()) return *impl_->ak_cache;
  EXATTEST_RETURN_IF_ERROR(impl_->open_locked());
  ESYS_TR ak = ESYS_TR_NONE;
  UniquePtr<TPM2B_PUBLIC> ak_pub;
  EXATTEST_RETURN_IF_ERROR(impl_->create_ak_locked(ak, ak_pub));
  FlushGuard flush(impl_->esys.get(), ak);
  auto info = impl_->ak_info_from_public(ak_pub->publicArea);
  EXATTEST_RETURN_IF_ERROR(info);
  impl_->ak_cache = info.value();
  impl_->ak_cache_pid = getpid();
  return info;
}

Result<std::vector<Bytes>> Tpm2Attester::read_pcrs(const PcrSelection& selection) {
  if (selection.count() == 0) {
    return make_error(Reason::kAttesterUnavailable, "no PCRs selected");
  }
  std::lock_guard<std::mutex> lock(esys_mutex());
  EXATTEST_RETURN_IF_ERROR(impl_->open_locked());
  auto values = impl_->read_pcr_map_locked(selection);
  EXATTEST_RETURN_IF_ERROR(values);
  std::vector<Bytes> out;
  for (const PcrBank& bank : selection.banks) {
    for (uint32_t i : bank.pcrs) out.push_back(values->at({bank.hash_alg, i}));
  }
  return out;
}

// The statically linked definition (factory.h); exattest.so links provider/tpm2_loader.cc's.
std::shared_ptr<Attester> make_tpm2_attester(Tpm2Config config) {
  return std::make_shared<Tpm2Attester>(std::move(config));
}

}  // namespace exattest::tpm2
