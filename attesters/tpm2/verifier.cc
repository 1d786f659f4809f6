// PROTOCOL.md §6 appraisal: parse, binding, AK trust, signature, PCR digest, reference
// values, clock. Each step fails with its own §7 reason; fail closed on anything unexpected.
#include "attesters/tpm2/verifier.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <string>

#include "attesters/tpm2/binding_tree.h"
#include "attesters/tpm2/boot_appraisal.h"
#include "attesters/tpm2/tpm_structs.h"

namespace exattest::tpm2 {

// One AK as appraisal needs it, derived from its TPMT_PUBLIC. Immutable once built; the
// EVP_PKEY is only read (verification makes its own contexts), so threads share it.
struct AkData {
  Bytes tpmt_public;
  Public pub;
  UniquePtr<EVP_PKEY> key;
  Bytes spki_hash;
};

class AkCache {
 public:
  static constexpr size_t kCapacity = 8;

  std::shared_ptr<const AkData> find(ByteView tpmt_public) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Bytes& k = entries_[i]->tpmt_public;
      if (k.size() == tpmt_public.size() && std::equal(k.begin(), k.end(), tpmt_public.begin())) {
        std::rotate(entries_.begin(), entries_.begin() + static_cast<long>(i),
                    entries_.begin() + static_cast<long>(i) + 1);  // most recent first
        return entries_.front();
      }
    }
    return nullptr;
  }
  void add(std::shared_ptr<const AkData> d) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() == kCapacity) entries_.pop_back();
    entries_.insert(entries_.begin(), std::move(d));
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<const AkData>> entries_;
};

namespace {

Verdict reject(Verdict v, Reason reason, std::string detail) {
  v.accepted = false;
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

bool bytes_equal(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

UniquePtr<X509> parse_der_cert(const Bytes& der) {
  const uint8_t* p = der.data();
  UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) cert.reset();  // trailing bytes
  return cert;
}

// Issue #11 item 11: a certificate from the AK CA is an AK certificate only in the TCG AK
// profile: an end-entity (not CA:TRUE), keyUsage (when present) allowing digitalSignature,
// and extendedKeyUsage listing `eku_oid` (tcg-kp-AIKCertificate unless the policy names
// another). Otherwise a serverAuth, codeSigning or CA certificate of the same CA, whose key
// is a software key, would vouch for a forged quote.
Status check_ak_profile(X509* leaf, const std::string& eku_oid) {
  auto fail = [](std::string d) { return Status(make_error(Reason::kUntrustedAk, std::move(d))); };
  uint32_t flags = X509_get_extension_flags(leaf);  // also decodes the extensions
  ERR_clear_error();
  if ((flags & EXFLAG_INVALID) != 0) return fail("the AK certificate has malformed extensions");
  if ((flags & EXFLAG_CA) != 0) {
    return fail(
        "the AK certificate is a CA certificate (basicConstraints CA:TRUE), not an AK "
        "certificate");
  }
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0) {
    return fail("the AK certificate's keyUsage does not allow digitalSignature");
  }
  std::string wanted =
      eku_oid + (eku_oid == kTcgAkEku ? " (tcg-kp-AIKCertificate)" : " (policy ak_eku)");
  int crit = 0;
  std::unique_ptr<EXTENDED_KEY_USAGE, void (*)(EXTENDED_KEY_USAGE*)> eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, nullptr)),
      EXTENDED_KEY_USAGE_free);
  ERR_clear_error();
  if (!eku) {
    return fail("the AK certificate has no extendedKeyUsage; an AK certificate needs " + wanted);
  }
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    char buf[160];
    int n = OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku.get(), i), /*no_name=*/1);
    if (n > 0 && static_cast<size_t>(n) < sizeof buf && eku_oid == buf) return Status::Ok();
  }
  return fail("the AK certificate's extendedKeyUsage lacks " + wanted);
}

// PROTOCOL.md §9: "evidence key 5 chains to a certificate in ak_ca" and, §6 step 3,
// "certifies the same public key".
Status ak_chains_to_ca(const std::vector<Bytes>& ak_certs, EVP_PKEY* ak, const Policy& policy) {
  auto fail = [](std::string d) { return Status(make_error(Reason::kUntrustedAk, std::move(d))); };
  if (ak_certs.empty()) return fail("no AK certificate (evidence key 5) to chain to ak_ca");
  UniquePtr<X509_STORE> store(X509_STORE_new());
  if (!store) return fail("out of memory");
  for (const auto& der : policy.ak_ca_certs) {
    UniquePtr<X509> ca = parse_der_cert(der);
    if (!ca || X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      ERR_clear_error();
      return fail("cannot use an ak_ca certificate");
    }
  }
  UniquePtr<X509> leaf = parse_der_cert(ak_certs[0]);
  if (!leaf) return fail("AK certificate (evidence key 5) is not DER X.509");
  X509Stack chain(sk_X509_new_null());
  if (!chain) return fail("out of memory");
  for (size_t i = 1; i < ak_certs.size(); ++i) {
    UniquePtr<X509> c = parse_der_cert(ak_certs[i]);
    if (!c) return fail("AK intermediate certificate is not DER X.509");
    if (!sk_X509_push(chain.get(), c.get())) return fail("out of memory");
    c.release();  // owned by the stack now
  }
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get()) != 1) {
    ERR_clear_error();
    return fail("out of memory");
  }
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok != 1) {
    return fail(std::string("AK certificate does not chain to ak_ca: ") +
                X509_verify_cert_error_string(err));
  }
  EVP_PKEY* cert_key = X509_get0_pubkey(leaf.get());
  if (cert_key == nullptr || EVP_PKEY_eq(cert_key, ak) != 1) {
    ERR_clear_error();
    return fail("AK certificate certifies another key than the quote's AK");
  }
  return check_ak_profile(leaf.get(), policy.ak_eku.value_or(kTcgAkEku));
}

// PROTOCOL.md §6 step 4: "The signature over key 1 verifies with the AK."
Status verify_signature(const Signature& sig, EVP_PKEY* ak, ByteView attest) {
  auto bad = [](std::string d) { return Status(make_error(Reason::kBadSignature, std::move(d))); };
  int key_id = EVP_PKEY_get_base_id(ak);
  bool ec_sig = sig.sig_alg == kAlgEcdsa;
  if ((ec_sig && key_id != EVP_PKEY_EC) || (!ec_sig && key_id != EVP_PKEY_RSA)) {
    return bad("the quote's signature algorithm does not match the AK's key type");
  }
  const EVP_MD* md = tpm_md(sig.hash_alg);
  if (md == nullptr) return bad("unsupported signature hash");
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, ak) != 1) {
    ERR_clear_error();
    return bad("cannot set up signature verification with the AK");
  }
  if (sig.sig_alg == kAlgRsapss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       // TPMs use salt length = digest length (Part 1, 2016+) or the maximum (older parts):
       // let OpenSSL recover it from the signature.
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)) {
    ERR_clear_error();
    return bad("cannot set up RSA-PSS verification");
  }
  if (sig.sig_alg == kAlgRsassa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    ERR_clear_error();
    return bad("cannot set up RSASSA verification");
  }
  int rc = EVP_DigestVerify(ctx.get(), sig.der_or_raw.data(), sig.der_or_raw.size(), attest.data(),
                            attest.size());
  ERR_clear_error();
  if (rc != 1) return bad("the quote's signature does not verify with the AK");
  return Status::Ok();
}

// Derives the AK data from TPMT_PUBLIC bytes (no cache), or fails with the step-1 detail.
Result<std::shared_ptr<const AkData>> derive_ak(ByteView tpmt_public) {
  auto p = parse_public(tpmt_public);
  if (!p.ok()) return make_error(Reason::kDecodeError, "AK: " + p.error().detail);
  auto key = public_to_pkey(*p);
  if (!key.ok()) return make_error(Reason::kDecodeError, "AK: " + key.error().detail);
  auto hash = spki_sha256(key->get());
  if (!hash.ok()) return make_error(Reason::kDecodeError, hash.error().detail);
  auto d = std::make_shared<AkData>();
  d->tpmt_public.assign(tpmt_public.begin(), tpmt_public.end());
  d->pub = std::move(p.value());
  d->key = std::move(key.value());
  d->spki_hash = std::move(hash.value());
  return std::shared_ptr<const AkData>(std::move(d));
}

// What step 2 compares extraData with: a binding-tree root computed from a connection's
// binding and key 7 (Evidence), or a caller's raw qualifyingData (a bare quote).
enum class Expected { kTreeRoot, kQualifyingData };

Verdict verify_quote_impl(const QuoteParts& parts, ByteView binding, const Policy& policy,
                          AkCache* cache, Expected compare_with = Expected::kQualifyingData) {
  Verdict v;
  // Step 1: "TPMS_ATTEST and TPMT_SIGNATURE parse exactly; magic ...; type ...".
  auto attest = parse_quote_attest(parts.attest);
  if (!attest.ok()) return reject(v, Reason::kDecodeError, attest.error().detail);
  auto sig = parse_signature(parts.signature);
  if (!sig.ok()) return reject(v, Reason::kDecodeError, sig.error().detail);
  std::shared_ptr<const AkData> ak_data;  // set when key 3 (TPMT_PUBLIC) was given
  const Public* pub = nullptr;
  EVP_PKEY* ak = parts.ak_key;
  Bytes pem_spki_hash;  // only for a bare PEM AK
  if (parts.ak_public) {
    if (cache != nullptr) ak_data = cache->find(*parts.ak_public);
    if (!ak_data) {
      auto d = derive_ak(*parts.ak_public);
      if (!d.ok()) return reject(v, d.error().reason, d.error().detail);
      ak_data = std::move(d.value());
      if (cache != nullptr) cache->add(ak_data);
    }
    if (ak != nullptr && EVP_PKEY_eq(ak, ak_data->key.get()) != 1) {
      ERR_clear_error();
      return reject(v, Reason::kUntrustedAk, "the AK's TPMT_PUBLIC and the given AK key differ");
    }
    ak = ak_data->key.get();
    pub = &ak_data->pub;
  } else if (ak != nullptr) {
    auto h = spki_sha256(ak);
    if (!h.ok()) return reject(v, Reason::kDecodeError, h.error().detail);
    pem_spki_hash = std::move(h.value());
  }
  if (ak == nullptr) return reject(v, Reason::kDecodeError, "no AK given");
  const Bytes& spki_hash = ak_data ? ak_data->spki_hash : pem_spki_hash;
  v.ak = "sha256:" + to_hex(view(spki_hash));

  // Step 2: "extraData == the root computed from `binding` and key 7 (§6.1), constant-time";
  // "An extraData that is not 32 bytes, or a root that differs, is binding_mismatch".
  if (!bytes_equal(view(attest->extra_data), binding)) {
    if (compare_with == Expected::kTreeRoot) {
      return reject(v, Reason::kBindingMismatch,
                    attest->extra_data.size() != kTreeHashSize
                        ? "the quote's qualifyingData is " +
                              std::to_string(attest->extra_data.size()) +
                              " bytes, not a 32-byte binding-tree root (PROTOCOL.md §6.1)"
                        : "the quote's qualifyingData is not the binding-tree root computed "
                          "from this connection's binding and key 7 (PROTOCOL.md §6.1)");
    }
    return reject(v, Reason::kBindingMismatch,
                  "the quote's qualifyingData (" + std::to_string(attest->extra_data.size()) +
                      " bytes) is not the expected one (" + std::to_string(binding.size()) +
                      " bytes)");
  }

  // Step 3: "The AK is trusted: the SHA-256 of its SPKI ... is in trusted_aks, or key 5
  // chains to ak_ca and certifies the same public key."
  bool pinned = std::any_of(policy.trusted_aks.begin(), policy.trusted_aks.end(),
                            [&](const Bytes& h) { return bytes_equal(view(h), view(spki_hash)); });
  if (!pinned) {
    if (policy.ak_ca_certs.empty()) {
      return reject(v, Reason::kUntrustedAk, "AK " + v.ak + " is not in trusted_aks");
    }
    Status chained = ak_chains_to_ca(parts.ak_certs, ak, policy);
    if (!chained.ok()) {
      return reject(v, Reason::kUntrustedAk,
                    "AK " + v.ak + " is not in trusted_aks and " + chained.error().detail);
    }
  }
  // Step 3, ak_primary: "the signed qualifiedSigner must equal nameAlg ||
  // H(TPM_RH_ENDORSEMENT (0x4000000b) || Name(key 3))" — the qualified name of a primary of
  // the endorsement hierarchy (Part 1 §16: QN(hierarchy) is its handle).
  if (policy.ak_primary) {
    if (!pub) {
      return reject(v, Reason::kUntrustedAk,
                    "ak_primary needs the AK's TPMT_PUBLIC to check the qualifiedSigner");
    }
    auto name = public_name(*pub);
    if (!name.ok()) return reject(v, Reason::kDecodeError, "AK: " + name.error().detail);
    Bytes qn_input{static_cast<uint8_t>(kRhEndorsement >> 24),
                   static_cast<uint8_t>(kRhEndorsement >> 16),
                   static_cast<uint8_t>(kRhEndorsement >> 8), static_cast<uint8_t>(kRhEndorsement)};
    qn_input.insert(qn_input.end(), name->begin(), name->end());
    auto qn_hash = tpm_hash(pub->name_alg, view(qn_input));
    if (!qn_hash.ok()) return reject(v, Reason::kDecodeError, "AK: " + qn_hash.error().detail);
    Bytes qn{static_cast<uint8_t>(pub->name_alg >> 8), static_cast<uint8_t>(pub->name_alg)};
    qn.insert(qn.end(), qn_hash->begin(), qn_hash->end());
    if (!bytes_equal(view(attest->qualified_signer), view(qn))) {
      return reject(v, Reason::kUntrustedAk,
                    "the quote's qualifiedSigner is not the endorsement-hierarchy primary made "
                    "from the given AK public area (another key, another hierarchy, or altered "
                    "attributes); set \"ak_primary\": false for a non-primary AK");
    }
    // "its attributes must then include restricted, sign, fixedTPM".
    constexpr uint32_t kNeeded = kAttrRestricted | kAttrSign | kAttrFixedTpm;
    if ((pub->attributes & kNeeded) != kNeeded) {
      return reject(v, Reason::kUntrustedAk,
                    "the AK is not a restricted, fixedTPM signing key (attributes lack "
                    "restricted, sign or fixedTPM)");
    }
  }

  // Step 4.
  Status sig_ok = verify_signature(*sig, ak, parts.attest);
  if (!sig_ok.ok()) return reject(v, Reason::kBadSignature, sig_ok.error().detail);

  // Step 5: "pcrSelect includes every PCR the policy lists, and H_sig(concatenated key-4
  // values) == pcrDigest, where H_sig is the signature's hash (not the bank's)".
  std::string bank_name(hash_alg_name(policy.pcr_bank));
  for (const auto& [index, value] : policy.pcrs) {
    bool selected = false;
    for (const auto& s : attest->pcr_select) {
      if (s.hash != policy.pcr_bank) continue;
      auto idx = s.indices();
      selected = selected || std::find(idx.begin(), idx.end(), index) != idx.end();
    }
    if (!selected) {
      return reject(v, Reason::kPcrMismatch,
                    "policy PCR " + bank_name + ":" + std::to_string(index) +
                        " is not in the quote's selection");
    }
  }
  std::map<std::pair<uint16_t, uint32_t>, const Bytes*> quoted;
  if (parts.pcr_values) {
    const auto& values = *parts.pcr_values;
    size_t expected = 0;
    for (const auto& s : attest->pcr_select) expected += s.indices().size();
    if (values.size() != expected) {
      return reject(v, Reason::kPcrMismatch,
                    "the quote selects " + std::to_string(expected) + " PCRs but " +
                        std::to_string(values.size()) + " values were given");
    }
    Bytes concat;
    size_t at = 0;
    for (const auto& s : attest->pcr_select) {
      size_t size = hash_alg_digest_size(s.hash);
      if (size == 0)
        return reject(v, Reason::kDecodeError, "the quote selects an unknown PCR bank");
      for (uint32_t index : s.indices()) {
        const Bytes& value = values[at++];
        if (value.size() != size) {
          return reject(v, Reason::kPcrMismatch,
                        "PCR value " + std::string(hash_alg_name(s.hash)) + ":" +
                            std::to_string(index) + " has the wrong length");
        }
        concat.insert(concat.end(), value.begin(), value.end());
        quoted[{s.hash, index}] = &value;
      }
    }
    auto digest = tpm_hash(sig->hash_alg, view(concat));
    if (!digest.ok() || !bytes_equal(view(*digest), view(attest->pcr_digest))) {
      return reject(v, Reason::kPcrMismatch, "the PCR values do not hash to the quote's pcrDigest");
    }
    for (const auto& [key, value] : quoted) {
      v.pcrs[pcr_name(key.first, key.second)] = to_hex(view(*value));
    }
  } else if (!policy.pcrs.empty()) {
    return reject(v, Reason::kPcrMismatch,
                  "the policy lists PCRs but no PCR values came with the quote");
  }

  // Step 6: "The PCR values match the policy's reference values".
  for (const auto& [index, reference] : policy.pcrs) {
    auto it = quoted.find({policy.pcr_bank, index});
    if (it == quoted.end() || !bytes_equal(view(*it->second), view(reference))) {
      return reject(v, Reason::kPcrMismatch,
                    "PCR " + bank_name + ":" + std::to_string(index) +
                        " differs from the policy's reference value");
    }
  }

  // Step 7: "clockInfo.safe is set when the policy asks for it".
  if (policy.require_clock_safe && attest->clock_info.safe != 1) {
    return reject(v, Reason::kPolicyViolation,
                  "the TPM clock is not safe (clockInfo.safe = 0) and require_clock_safe is set");
  }

  v.accepted = true;
  v.reason = Reason::kNone;
  v.detail = "quote verified";
  return v;
}

QuoteParts parts_of(const EvidenceParts& evidence) {
  QuoteParts parts;
  parts.attest = view(evidence.attest);
  parts.signature = view(evidence.signature);
  parts.ak_public = view(evidence.ak_public);
  parts.pcr_values = evidence.pcr_values;
  parts.ak_certs = evidence.ak_certs;
  return parts;
}

// PROTOCOL.md §6.1: the root key 7 proves for this connection's `binding` (RFC 9162
// §2.1.3.2), after the limits ("key 7 present ..., 1 ≤ tree_size ≤ 4096, ...; anything else
// is decode_error"). decode_evidence checked them already; parts built in memory are checked
// here again.
Result<Bytes> tree_root_for(const EvidenceParts& evidence, ByteView binding) {
  if (!evidence.tree) {
    return make_error(Reason::kDecodeError,
                      "tpm2 evidence: required key 7 (binding tree, PROTOCOL.md §6.1) is "
                      "missing: version-1 Evidence, whose qualifyingData is the raw binding, is "
                      "not accepted");
  }
  EXATTEST_RETURN_IF_ERROR(check_tree_position(*evidence.tree));
  auto root = root_from_path(binding, *evidence.tree);
  if (!root) {
    return make_error(Reason::kDecodeError, "tpm2 evidence: key 7 path does not fit its tree");
  }
  return std::move(*root);
}

Verdict verify_evidence_impl(const EvidenceParts& evidence, ByteView binding, const Policy& policy,
                             AkCache* cache) {
  auto root = tree_root_for(evidence, binding);
  if (!root.ok()) return reject(Verdict{}, root.error().reason, root.error().detail);
  Verdict v =
      verify_quote_impl(parts_of(evidence), view(*root), policy, cache, Expected::kTreeRoot);
  if (!v.accepted) return v;
  // After the quote: only PCR values its signature covers can vouch for the log.
  Status log = appraise_event_log(evidence.event_log, v.pcrs, policy);
  if (!log.ok()) return reject(std::move(v), log.error().reason, log.error().detail);
  return v;
}

}  // namespace

Verdict verify_quote(const QuoteParts& parts, ByteView qualifying_data, const Policy& policy) {
  try {
    return verify_quote_impl(parts, qualifying_data, policy, nullptr);
  } catch (const std::bad_alloc&) {
    return reject(Verdict{}, Reason::kDecodeError, "out of memory while appraising");
  }
}

Verdict verify_evidence(const EvidenceParts& evidence, ByteView binding, const Policy& policy) {
  try {
    return verify_evidence_impl(evidence, binding, policy, nullptr);
  } catch (const std::bad_alloc&) {
    return reject(Verdict{}, Reason::kDecodeError, "out of memory while appraising");
  }
}

QuoteParts quote_parts(const EvidenceParts& evidence) { return parts_of(evidence); }

Tpm2Appraiser::Tpm2Appraiser(Policy policy, std::string media_type)
    : policy_(std::move(policy)),
      media_type_(std::move(media_type)),
      ak_cache_(std::make_unique<AkCache>()) {}

Tpm2Appraiser::~Tpm2Appraiser() = default;

Verdict Tpm2Appraiser::appraise(ByteView cmw, ByteView binding) {
  try {
    auto evidence = unwrap_cmw(cmw, media_type_);
    if (!evidence.ok()) {
      return reject(Verdict{}, Reason::kDecodeError, evidence.error().detail);
    }
    return verify_evidence_impl(*evidence, binding, policy_, ak_cache_.get());
  } catch (const std::bad_alloc&) {
    return reject(Verdict{}, Reason::kDecodeError, "out of memory while appraising");
  }
}

}  // namespace exattest::tpm2
