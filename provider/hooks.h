// ex_data constructors and the tls_flags extension (PROTOCOL.md §2): negotiation,
// ticket and resumption policy on attested connections.
#pragma once

#include <openssl/ssl.h>

#include <initializer_list>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "config.h"

namespace exattest::hooks {

// Once per process: registers the SSL_CTX ex_data constructor that adds the tls_flags
// extension to every new SSL_CTX (only when `advertise` — i.e. the shim is present).
// A later call replaces the settings used for SSL_CTXs created after it (tests use this;
// the provider calls it once, under its own once-guard).
// `refuse` non-empty (issue #11 item 3: the shim is bypassed and request = require): no
// extension is advertised and every handshake on a new SSL_CTX fails with not_negotiated
// and this detail.
Status init(const Config& config, bool advertise, const std::string& refuse = {});

// Whether the tls_flags extension negotiated `bit` on this connection (both sides sent it:
// for a client, the server echoed it; for a server, the client offered it and we echoed).
bool negotiated(const SSL* ssl, unsigned bit);

// Whether the peer sent the tls_flags extension at all.
bool peer_sent_flags(const SSL* ssl);

// PROTOCOL.md §2 codec, exposed for tests. encode_flags returns the extension body
// `flags_len(1) | flags[flags_len]` with exactly `bits` set (minimal encoding).
Bytes encode_flags(std::initializer_list<unsigned> bits);
// Parses an extension body strictly (minimal, not empty, not all-zero, no trailing bytes)
// into the flags[] octets; decode_error on any violation.
Result<Bytes> decode_flags(ByteView body);
// Whether bit `n` is set in flags[] octets.
bool flag_set(ByteView flags, unsigned n);

}  // namespace exattest::hooks
