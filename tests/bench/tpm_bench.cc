// Benchmark 5 (issue #3): TPM quote and Evidence verification latency, in-process.
//
//   quote:  Tpm2Attester::evidence(binding), exactly what the attesting side runs per
//           connection: TPM2_CreatePrimary (the AK, PROTOCOL.md §6), TPM2_PCR_Read,
//           TPM2_Quote, TPM2_FlushContext, CBOR CMW encoding. Wall time.
//   verify: Tpm2Appraiser::appraise(cmw, binding) against a policy pinning this TPM's AK and
//           its current PCR 0-7 (PROTOCOL.md §6 appraisal steps 1-7), on a fresh quote.
//           Thread CPU time = wall time here (no I/O); both are reported.
// Every quote uses a fresh random 48-byte binding (SHA-384 suite, OpenSSL's default) and
// every verification must accept; anything else is a failure, not a figure.
//
//   tpm_bench --tcti TCTI [--quotes 500] [--verifies 100] [--label direct]
#include <openssl/rand.h>

#include "attesters/tpm2/attester.h"
#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/policy.h"
#include "attesters/tpm2/verifier.h"
#include "bench_util.h"

using namespace exattest;
using bench::die;

int main(int argc, char** argv) {
  std::string tcti = bench::arg(argc, argv, "--tcti");
  std::string label = bench::arg(argc, argv, "--label", "direct");
  long quotes = bench::arg_int(argc, argv, "--quotes", 500);
  long verifies = bench::arg_int(argc, argv, "--verifies", 100);
  if (tcti.empty() || quotes < 1) die("usage: tpm_bench --tcti TCTI [--quotes N] [--verifies N]");

  tpm2::Tpm2Config tc;
  tc.tcti = tcti;
  auto pcrs = tpm2::parse_pcr_selection("sha256:0,1,2,3,4,5,6,7");
  if (!pcrs.ok()) die("pcr selection");
  tc.pcrs = *pcrs;
  tpm2::Tpm2Attester attester(tc);

  // The first call opens the TCTI connection: reported apart, not in the median.
  double t_open = bench::wall_ms();
  auto ak = attester.ak_public();
  if (!ak.ok()) die("TPM: " + ak.error().detail);
  t_open = bench::wall_ms() - t_open;

  Bytes binding(48);
  std::vector<double> q;
  Bytes last_cmw, last_binding;
  for (long i = 0; i < quotes; ++i) {
    RAND_bytes(binding.data(), static_cast<int>(binding.size()));
    double t0 = bench::wall_ms();
    auto e = attester.evidence(view(binding));
    double t1 = bench::wall_ms();
    if (!e.ok()) die("quote " + std::to_string(i) + ": " + e.error().detail);
    q.push_back(t1 - t0);
    last_cmw = std::move(*e);
    last_binding = binding;
  }

  std::vector<double> vw, vc;
  if (verifies > 0) {
    tpm2::Policy policy;
    Bytes h;
    if (!from_hex(ak->spki_sha256.substr(7), h)) die("AK hash");
    policy.trusted_aks.push_back(h);
    auto values = attester.read_pcrs(tc.pcrs);
    if (!values.ok()) die("PCR read: " + values.error().detail);
    for (size_t i = 0; i < values->size(); ++i) policy.pcrs[static_cast<uint32_t>(i)] = (*values)[i];
    tpm2::Tpm2Appraiser appraiser(policy);
    for (long i = 0; i < verifies; ++i) {
      double w0 = bench::wall_ms(), c0 = bench::thread_cpu_ms();
      Verdict v = appraiser.appraise(view(last_cmw), view(last_binding));
      double w1 = bench::wall_ms(), c1 = bench::thread_cpu_ms();
      if (!v.accepted) die("appraisal rejected: " + v.detail);
      vw.push_back(w1 - w0);
      vc.push_back(c1 - c0);
    }
  }
  std::printf("{\"label\": \"%s\", \"first_call_ms\": %.4g, \"cmw_bytes\": %zu,\n"
              " \"quote_ms\": %s,\n \"verify_ms\": %s,\n \"verify_cpu_ms\": %s}\n",
              label.c_str(), t_open, last_cmw.size(), bench::json_stats(bench::stats(q)).c_str(),
              bench::json_stats(bench::stats(vw)).c_str(),
              bench::json_stats(bench::stats(vc)).c_str());
  return 0;
}
