// Fuzz target: TPM 2.0 structures of a quote (attesters/tpm2 tpm_structs): TPMS_ATTEST,
// TPMT_SIGNATURE, TPMT_PUBLIC, TPM2B_PUBLIC, and the key/Name derivations behind them.
// Invariants: rejections are decode_error (PROTOCOL.md §6 step 1: "parse exactly");
// parse_public keeps the exact input bytes; a TPM2B_PUBLIC parses like its TPMT_PUBLIC.
#include "attesters/tpm2/tpm_structs.h"
#include "fuzz_support.h"

using namespace exattest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);

  auto q = tpm2::parse_quote_attest(in);
  if (!q.ok()) {
    FUZZ_CHECK(q.reason() == Reason::kDecodeError);
  } else {
    FUZZ_CHECK(q->magic == tpm2::kTpmGeneratedValue && q->type == tpm2::kStAttestQuote);
    for (const auto& sel : q->pcr_select) {
      FUZZ_CHECK(sel.select.size() <= 4);
      for (uint32_t i : sel.indices()) FUZZ_CHECK(i < sel.select.size() * 8);
    }
  }

  auto s = tpm2::parse_signature(in);
  if (!s.ok()) {
    FUZZ_CHECK(s.reason() == Reason::kDecodeError);
  } else {
    FUZZ_CHECK(s->sig_alg == tpm2::kAlgEcdsa || s->sig_alg == tpm2::kAlgRsassa ||
               s->sig_alg == tpm2::kAlgRsapss);
  }

  auto pub = tpm2::parse_public(in);
  if (!pub.ok()) {
    FUZZ_CHECK(pub.reason() == Reason::kDecodeError);
  } else {
    FUZZ_CHECK(pub->marshaled == Bytes(data, data + size));
    auto k = tpm2::public_to_pkey(*pub);
    if (k.ok()) {
      auto spki = tpm2::spki_sha256(k->get());
      FUZZ_CHECK(spki.ok() && spki->size() == 32);
    } else {
      FUZZ_CHECK(k.reason() == Reason::kDecodeError);
    }
    auto name = tpm2::public_name(*pub);
    if (name.ok()) {
      FUZZ_CHECK(name->size() > 2 && (*name)[0] == (pub->name_alg >> 8) &&
                 (*name)[1] == (pub->name_alg & 0xff));
    } else {
      FUZZ_CHECK(name.reason() == Reason::kDecodeError);
    }
    // The same key with its TPM2B size prefix parses to the same structure.
    if (size <= 0xffff) {
      Bytes b2{static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size & 0xff)};
      b2.insert(b2.end(), data, data + size);
      auto p2 = tpm2::parse_tpm2b_public(view(b2));
      FUZZ_CHECK(p2.ok() && p2->marshaled == pub->marshaled && p2->type == pub->type &&
                 p2->attributes == pub->attributes);
    }
  }

  auto p2b = tpm2::parse_tpm2b_public(in);
  FUZZ_CHECK(p2b.ok() || p2b.reason() == Reason::kDecodeError);
  return 0;
}
