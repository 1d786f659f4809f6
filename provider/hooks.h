// ex_data constructors and the tls_flags extension (PROTOCOL.md §2): negotiation,
// ticket and resumption policy on attested connections.
#pragma once

#include <openssl/ssl.h>

#include "common/result.h"
#include "config.h"

namespace exattest::hooks {

// Once per process: registers the SSL_CTX ex_data constructor that adds the tls_flags
// extension to every new SSL_CTX (only when `advertise` — i.e. the shim is present).
Status init(const Config& config, bool advertise);

// Whether the tls_flags extension negotiated `bit` on this connection (both sides sent it:
// for a client, the server echoed it; for a server, the client offered it and we echoed).
bool negotiated(const SSL* ssl, unsigned bit);

// Whether the peer sent the tls_flags extension at all.
bool peer_sent_flags(const SSL* ssl);

}  // namespace exattest::hooks
