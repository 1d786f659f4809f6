// exattest-tpm2.so: the ESAPI attester (attesters/tpm2/attester.cc, the same sources the CLI
// and the unit tests link statically) behind the C ABI of tpm2_module.h. exattest.so loads it
// on the first quote, so tpm2-tss is mapped only into processes that attest (issue #7).
#include "attesters/tpm2/module/tpm2_module.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "attesters/tpm2/attester.h"
#include "attesters/tpm2/pcr_selection.h"
#include "common/result.h"

namespace {

using exattest::Bytes;
using exattest::ByteView;
using exattest::Reason;
using exattest::tpm2::Tpm2Attester;

void set_error(int* reason, char* detail, size_t cap, Reason r, std::string_view text) noexcept {
  if (reason != nullptr) *reason = static_cast<int>(r);
  if (detail != nullptr && cap > 0) {
    size_t n = std::min(cap - 1, text.size());
    std::memcpy(detail, text.data(), n);
    detail[n] = '\0';
  }
}

void* create(const char* tcti, const char* pcrs, int ak_alg, const char* media_type, int* reason,
             char* detail, size_t detail_cap) noexcept {
  if (ak_alg != EXATTEST_TPM2_AK_ECC_P256 && ak_alg != EXATTEST_TPM2_AK_RSA_2048) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              "exattest-tpm2.so: unknown AK algorithm");
    return nullptr;
  }
  try {
    std::string spec = pcrs != nullptr ? pcrs : "";
    auto sel = exattest::tpm2::parse_pcr_selection(spec);
    if (!sel.ok()) {
      // PROTOCOL.md §7: a TPM that cannot quote as configured is attester_unavailable.
      set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
                "bad `pcrs` = " + spec + ": " + sel.error().detail);
      return nullptr;
    }
    exattest::tpm2::Tpm2Config cfg;
    cfg.tcti = tcti != nullptr ? tcti : "";
    cfg.pcrs = std::move(sel).value();
    cfg.ak_alg = ak_alg == EXATTEST_TPM2_AK_RSA_2048 ? exattest::tpm2::AkAlgorithm::kRsa2048
                                                     : exattest::tpm2::AkAlgorithm::kEccP256;
    if (media_type != nullptr && *media_type != '\0') cfg.media_type = media_type;
    return new Tpm2Attester(std::move(cfg));
  } catch (const std::exception& e) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              std::string("exattest-tpm2.so: cannot create the attester: ") + e.what());
  } catch (...) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              "exattest-tpm2.so: cannot create the attester");
  }
  return nullptr;
}

int evidence(void* attester, const uint8_t* binding, size_t binding_len, uint8_t** out,
             size_t* out_len, int* reason, char* detail, size_t detail_cap) noexcept {
  if (attester == nullptr || binding == nullptr || out == nullptr || out_len == nullptr) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              "exattest-tpm2.so: evidence() called without an attester or buffers");
    return -1;
  }
  try {
    auto ev = static_cast<Tpm2Attester*>(attester)->evidence(ByteView(binding, binding_len));
    if (!ev.ok()) {
      set_error(reason, detail, detail_cap, ev.error().reason, ev.error().detail);
      return -1;
    }
    const Bytes& cmw = ev.value();
    auto* buf = static_cast<uint8_t*>(std::malloc(std::max<size_t>(cmw.size(), 1)));
    if (buf == nullptr) {
      set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
                "exattest-tpm2.so: out of memory");
      return -1;
    }
    if (!cmw.empty()) std::memcpy(buf, cmw.data(), cmw.size());
    *out = buf;
    *out_len = cmw.size();
    return 0;
  } catch (const std::exception& e) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              std::string("exattest-tpm2.so: quote failed: ") + e.what());
  } catch (...) {
    set_error(reason, detail, detail_cap, Reason::kAttesterUnavailable,
              "exattest-tpm2.so: quote failed");
  }
  return -1;
}

void free_buffer(uint8_t* buf) noexcept { std::free(buf); }

void destroy(void* attester) noexcept { delete static_cast<Tpm2Attester*>(attester); }

const exattest_tpm2_ops kOps = {EXATTEST_TPM2_ABI_VERSION, &create, &evidence, &free_buffer,
                                &destroy};

}  // namespace

extern "C" __attribute__((visibility("default"))) const exattest_tpm2_ops* exattest_tpm2_module_ops(
    void) {
  return &kOps;
}
