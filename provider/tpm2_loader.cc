// exattest.so's definition of tpm2::make_tpm2_attester (attesters/tpm2/factory.h): an Attester
// that loads exattest-tpm2.so (the ESAPI attester, and with it tpm2-tss) with dlopen() on its
// first evidence() call. A process that never quotes (a client with `attest = none`, or a
// server that never completes a handshake) never maps tpm2-tss: issue #7, docs/performance.md.
// Linked only into the module (provider/module.cmake); never into a static library.
#include <dlfcn.h>
#include <pthread.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "attesters/tpm2/factory.h"
#include "attesters/tpm2/module/tpm2_module.h"
#include "attesters/tpm2/pcr_selection.h"
#include "common/reason.h"

namespace exattest::tpm2 {
namespace {

constexpr size_t kDetailCap = 1024;

// The loaded object, process-wide (one load per process, never unloaded). A child forked
// after the load inherits the mapping; a child forked before loads it itself.
struct Loaded {
  std::mutex mu;
  bool tried = false;
  const exattest_tpm2_ops* ops = nullptr;
  std::optional<Error> error;
};

Loaded& loaded() {
  static Loaded* l = new Loaded;  // never destroyed: usable during exit
  return *l;
}

void atfork_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A child forked while another thread is inside dlopen() below must not inherit a held
    // lock (nginx forks its workers; PROTOCOL.md §5 is driven per process).
    pthread_atfork([] { loaded().mu.lock(); }, [] { loaded().mu.unlock(); },
                   [] { loaded().mu.unlock(); });
  });
}

// exattest-tpm2.so sits next to exattest.so (build/lib/ossl-modules/, or the install dir).
std::string module_path() {
  Dl_info info{};
  static const int anchor = 0;
  if (dladdr(&anchor, &info) == 0 || info.dli_fname == nullptr) return EXATTEST_TPM2_MODULE_FILE;
  std::string self = info.dli_fname;
  size_t slash = self.rfind('/');
  if (slash == std::string::npos) return EXATTEST_TPM2_MODULE_FILE;
  return self.substr(0, slash + 1) + EXATTEST_TPM2_MODULE_FILE;
}

Error load_error(const std::string& path, const std::string& why) {
  // PROTOCOL.md §7: "attester_unavailable" — the local attester cannot produce Evidence.
  return make_error(Reason::kAttesterUnavailable,
                    "cannot load the TPM attester " + path + ": " + why +
                        " (fix: exattest-tpm2.so must sit in the same directory as exattest.so "
                        "and tpm2-tss must be installed; building the exattest_provider target "
                        "builds both, so copy them together)");
}

// Loads exattest-tpm2.so once per process; the caller holds loaded().mu.
void load_locked(Loaded& l) {
  if (l.tried) return;
  l.tried = true;
  std::string path = module_path();
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (h == nullptr) {
    const char* e = dlerror();
    l.error = load_error(path, e != nullptr ? e : "dlopen failed");
    return;
  }
  auto entry = reinterpret_cast<exattest_tpm2_module_ops_fn>(dlsym(h, EXATTEST_TPM2_ENTRY_POINT));
  const exattest_tpm2_ops* ops = entry != nullptr ? entry() : nullptr;
  if (ops == nullptr) {
    l.error = load_error(path, "no " EXATTEST_TPM2_ENTRY_POINT " entry point");
    return;
  }
  if (ops->abi_version != EXATTEST_TPM2_ABI_VERSION || ops->create == nullptr ||
      ops->evidence == nullptr || ops->free_buffer == nullptr || ops->destroy == nullptr) {
    l.error = load_error(path, "ABI version " + std::to_string(ops->abi_version) +
                                   ", this exattest.so needs " +
                                   std::to_string(EXATTEST_TPM2_ABI_VERSION) + " (mixed versions)");
    return;
  }
  l.ops = ops;
}

Error error_from(int reason, const char* detail, const char* fallback) {
  std::optional<Reason> r =
      reason > 0 ? reason_from_code(static_cast<unsigned>(reason)) : std::nullopt;
  // Fail closed: an unknown or missing code is still a failure.
  return make_error(r.value_or(Reason::kAttesterUnavailable),
                    detail[0] != '\0' ? std::string(detail) : std::string(fallback));
}

class LazyTpm2Attester final : public Attester {
 public:
  explicit LazyTpm2Attester(Tpm2Config config) : config_(std::move(config)) { atfork_once(); }
  ~LazyTpm2Attester() override {
    if (handle_ != nullptr) ops_->destroy(handle_);
  }
  LazyTpm2Attester(const LazyTpm2Attester&) = delete;
  LazyTpm2Attester& operator=(const LazyTpm2Attester&) = delete;

  Result<Bytes> evidence(ByteView binding) override {
    const exattest_tpm2_ops* ops = nullptr;
    void* handle = nullptr;
    {
      Loaded& l = loaded();
      std::lock_guard<std::mutex> lock(l.mu);
      load_locked(l);
      if (l.error) return *l.error;
      if (handle_ == nullptr && !create_error_) {
        int reason = 0;
        char detail[kDetailCap] = {0};
        std::string pcrs = format_pcr_selection(config_.pcrs);
        int ak = config_.ak_alg == AkAlgorithm::kRsa2048 ? EXATTEST_TPM2_AK_RSA_2048
                                                         : EXATTEST_TPM2_AK_ECC_P256;
        handle_ = l.ops->create(config_.tcti.c_str(), pcrs.c_str(), ak, config_.media_type.c_str(),
                                &reason, detail, sizeof(detail));
        if (handle_ == nullptr)
          create_error_ = error_from(reason, detail, "exattest-tpm2.so: create failed");
        ops_ = l.ops;
      }
      if (create_error_) return *create_error_;
      ops = ops_;
      handle = handle_;
    }
    // Outside the lock: the attester serialises its own TPM access.
    uint8_t* out = nullptr;
    size_t out_len = 0;
    int reason = 0;
    char detail[kDetailCap] = {0};
    if (ops->evidence(handle, binding.data(), binding.size(), &out, &out_len, &reason, detail,
                      sizeof(detail)) != 0 ||
        out == nullptr) {
      if (out != nullptr) ops->free_buffer(out);
      return error_from(reason, detail, "exattest-tpm2.so: evidence failed without a reason");
    }
    Bytes cmw(out, out + out_len);
    ops->free_buffer(out);
    return cmw;
  }

 private:
  const Tpm2Config config_;
  // Guarded by loaded().mu; set once, then read-only.
  const exattest_tpm2_ops* ops_ = nullptr;
  void* handle_ = nullptr;
  std::optional<Error> create_error_;
};

}  // namespace

std::shared_ptr<Attester> make_tpm2_attester(Tpm2Config config) {
  return std::make_shared<LazyTpm2Attester>(std::move(config));
}

}  // namespace exattest::tpm2
