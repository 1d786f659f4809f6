/* C ABI between the provider module (exattest.so) and exattest-tpm2.so, the ESAPI attester
 * that exattest.so loads with dlopen() on the first quote (docs/performance.md, issue #7), so
 * that processes that never quote (clients with `attest = none`) never load tpm2-tss.
 *
 * Both objects link their own private copy of libstdc++ (-static-libstdc++), so no C++ object
 * or exception may cross this boundary: only C types and byte buffers do. Every function is
 * noexcept on the exattest-tpm2.so side. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of exattest_tpm2_ops; the loader refuses a mismatch. */
#define EXATTEST_TPM2_ABI_VERSION 1u
/* The only symbol exattest-tpm2.so exports. */
#define EXATTEST_TPM2_ENTRY_POINT "exattest_tpm2_module_ops"
/* File name, looked up in the directory of exattest.so. */
#define EXATTEST_TPM2_MODULE_FILE "exattest-tpm2.so"

/* AK algorithms (exattest::tpm2::AkAlgorithm). */
#define EXATTEST_TPM2_AK_ECC_P256 0
#define EXATTEST_TPM2_AK_RSA_2048 1

typedef struct exattest_tpm2_ops {
  uint32_t abi_version; /* EXATTEST_TPM2_ABI_VERSION */
  /* A Tpm2Attester for this TCTI ("" = tctildr's default), PCR selection text (config key
   * `pcrs`), AK algorithm (EXATTEST_TPM2_AK_*) and CMW media type ("" = the default). Opens
   * no TPM. NULL on failure, with *reason (a PROTOCOL.md §7 code) and a NUL-terminated,
   * possibly truncated detail. */
  void* (*create)(const char* tcti, const char* pcrs, int ak_alg, const char* media_type,
                  int* reason, char* detail, size_t detail_cap);
  /* Tpm2Attester::evidence(binding). 0 on success: *out (release with free_buffer) holds
   * *out_len bytes of CMW record. Otherwise -1 with *reason and detail set as for create. */
  int (*evidence)(void* attester, const uint8_t* binding, size_t binding_len, uint8_t** out,
                  size_t* out_len, int* reason, char* detail, size_t detail_cap);
  void (*free_buffer)(uint8_t* buf);
  void (*destroy)(void* attester);
} exattest_tpm2_ops;

typedef const exattest_tpm2_ops* (*exattest_tpm2_module_ops_fn)(void);

/* The entry point (EXATTEST_TPM2_ENTRY_POINT): a static table, valid while the object is
 * loaded (it is never unloaded). */
const exattest_tpm2_ops* exattest_tpm2_module_ops(void);

#ifdef __cplusplus
}
#endif
