// `exattest quote`: a fresh TPM quote over a nonce, wrapped as the PROTOCOL.md §6 CMW record.
#include <unistd.h>

#include <iostream>

#include "attesters/tpm2/evidence.h"
#include "evidence_view.h"
#include "tpm_common.h"

namespace exattest::cli {

namespace {

const CommandSpec& spec() {
  static const CommandSpec s{
      .name = "quote",
      .usage = {"quote --nonce HEX [--tcti TCTI] [--pcrs SEL] [--ak-alg ALG] [-o FILE]\n"
                "                [--raw-out DIR]"},
      .summary =
          "Quote the TPM's PCRs for the nonce as the lone leaf of a binding tree\n"
          "(qualifyingData = SHA-256(0x00 || nonce), key 7 = [0, 1, []], PROTOCOL.md §6.1)\n"
          "and write the CMW record\n"
          "[\"application/vnd.exattest.tpm2-quote+cbor\", evidence, 4] (CBOR, PROTOCOL.md §6).",
      .description =
          "Verify it with: exattest verify --cmw FILE --nonce HEX --policy POLICY.\n"
          "--raw-out also writes tpm2-tools files, so tpm2_checkquote can check the same quote:\n"
          "  tpm2_checkquote -u DIR/ak.pem -m DIR/quote.attest -s DIR/quote.sig \\\n"
          "    -f DIR/pcrs.values -l \"$(cat DIR/pcrs.sel)\" -g sha256 -q \"$(cat DIR/nonce.hex)\"\n"
          "(nonce.hex holds the quote's qualifyingData, the tree root, not the nonce).",
      .options = {{"--nonce", "", "HEX", "the binding (tree leaf), 1..64 bytes as hex (required)"},
                  tcti_option(),
                  pcrs_option(),
                  ak_alg_option(),
                  {"--out", "-o", "FILE", "where to write the CMW (default '-': stdout)"},
                  {"--raw-out", "", "DIR",
                   "also write quote.attest, quote.sig, ak.pub, ak.pem, ak.tpmt,\n"
                   "pcrs.values, pcrs.sel, nonce.hex into DIR (see docs/cli.md)"}},
      .exit_codes =
          "  0  CMW written\n"
          "  2  usage error, I/O error, or the TPM is unreachable or failed\n"
          "     (attester_unavailable)\n",
  };
  return s;
}

}  // namespace

int cmd_quote(const std::vector<std::string>& argv) {
  int exit_code = 0;
  auto args = parse_or_exit(spec(), argv, exit_code);
  if (!args) return exit_code;
  auto nonce_text = args->get("--nonce");
  if (!nonce_text) return usage_error(spec(), "missing --nonce HEX");
  Bytes nonce;
  if (!parse_nonce(*nonce_text, nonce)) {
    return usage_error(spec(), "--nonce is not hex: '" + *nonce_text + "'");
  }
  // TPM 2.0 Part 3 TPM2_Quote: qualifyingData is a TPM2B_DATA; the attester bounds it.
  if (nonce.empty() || nonce.size() > 64) {
    return usage_error(spec(), "--nonce must be 1..64 bytes, got " + std::to_string(nonce.size()));
  }
  std::string out_path = args->get("--out").value_or("-");
  if (out_path == "-" && isatty(STDOUT_FILENO)) {
    return usage_error(spec(), "refusing to write binary CBOR to a terminal; pass -o FILE");
  }
  auto config = tpm_config(*args, /*with_pcrs=*/true);
  if (!config) return usage_error(spec(), config.error().detail);
  std::string tcti = config->tcti;
  std::string media_type = config->media_type;
  tpm2::Tpm2Attester attester(std::move(config).value());
  auto parts = attester.quote(view(nonce));
  if (!parts) return tpm_failure("quote", parts.error(), tcti);

  Bytes record = tpm2::wrap_cmw(view(tpm2::encode_evidence(*parts)), media_type);
  Status st = write_file(out_path, view(record));
  if (!st) return fail("quote", st.error().detail, kExitUsage);
  if (auto dir = args->get("--raw-out")) {
    Status raw = write_raw_parts(*parts, *dir);
    if (!raw) return fail("quote", "--raw-out: " + describe(raw.error()), kExitUsage);
  }
  return kExitOk;
}

}  // namespace exattest::cli
