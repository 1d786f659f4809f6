// UniquePtr deleters for tpm2-tss objects: ESYS and TCTI contexts, and Esys_Free'd outputs.
#pragma once

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "common/ossl_ptr.h"

namespace exattest {

// Esys_Finalize takes ESYS_CONTEXT** (it nulls the caller's pointer), so wrap it. It does not
// finalize the TCTI: an owner must destroy the ESYS context before its TCTI context.
template <>
struct Deleter<ESYS_CONTEXT> {
  void operator()(ESYS_CONTEXT* p) const { Esys_Finalize(&p); }
};

// Only for TCTI contexts made by Tss2_TctiLdr_Initialize.
template <>
struct Deleter<TSS2_TCTI_CONTEXT> {
  void operator()(TSS2_TCTI_CONTEXT* p) const { Tss2_TctiLdr_Finalize(&p); }
};

// Output structures that ESAPI allocates and the caller releases with Esys_Free. Use these
// UniquePtr<T> only for pointers returned by Esys_* calls.
#define EXATTEST_DEFINE_ESYS_DELETER(type)           \
  template <>                                        \
  struct Deleter<type> {                             \
    void operator()(type* p) const { Esys_Free(p); } \
  }

EXATTEST_DEFINE_ESYS_DELETER(TPM2B_ATTEST);
EXATTEST_DEFINE_ESYS_DELETER(TPM2B_CREATION_DATA);
EXATTEST_DEFINE_ESYS_DELETER(TPM2B_DIGEST);
EXATTEST_DEFINE_ESYS_DELETER(TPM2B_NAME);
EXATTEST_DEFINE_ESYS_DELETER(TPM2B_PUBLIC);
EXATTEST_DEFINE_ESYS_DELETER(TPML_DIGEST);
EXATTEST_DEFINE_ESYS_DELETER(TPML_PCR_SELECTION);
EXATTEST_DEFINE_ESYS_DELETER(TPMT_SIGNATURE);
EXATTEST_DEFINE_ESYS_DELETER(TPMT_TK_CREATION);

#undef EXATTEST_DEFINE_ESYS_DELETER

}  // namespace exattest
