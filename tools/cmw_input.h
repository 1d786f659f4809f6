// Sniffing CMW inputs for the CLI: CBOR, JSON, an X.509 certificate, or an EAT claims set.
#pragma once

#include <string>

#include "cmw/cmw.h"
#include "common/bytes.h"
#include "common/result.h"

namespace exattest::cli {

struct SniffedCmw {
  std::string format;     // "cbor", "json" or "x509"
  std::string container;  // "" or "eat-claims-set" (the CMW is its "cmw" claim)
  cmw::Cmw cmw;
};

// Decodes `in` in whatever RFC 9999 form it is. out.format is set even on failure.
Status decode_any_cmw(ByteView in, SniffedCmw& out);

}  // namespace exattest::cli
