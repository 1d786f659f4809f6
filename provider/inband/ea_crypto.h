// The production inband::Crypto: RFC 9261 via provider/ea and the PROTOCOL.md §4 binding,
// with the connection's own certificate, key, chain and trust store.
#pragma once

#include <openssl/ssl.h>

#include <optional>

#include "binding.h"
#include "config.h"
#include "ea/ea.h"
#include "inband/machine.h"

namespace exattest::inband {

class EaCrypto : public Crypto {
 public:
  // `ssl` is not owned and must outlive this object; its handshake must be complete.
  EaCrypto(SSL* ssl, const Config& config);

  Result<Bytes> make_request() override;
  Result<bool> accept_request(ByteView request) override;
  Result<Bytes> own_binding(ByteView request) override;
  Result<Bytes> make_authenticator(ByteView request, ByteView cmw) override;
  Result<Bytes> make_empty_authenticator(ByteView request) override;
  Result<Validated> validate(ByteView request, ByteView authenticator) override;

 private:
  // The request accept_request parsed (the one this side answers).
  const ea::Request* peer_request(ByteView raw) const;

  SSL* ssl_;
  ea::Connection conn_;
  uint16_t cmw_ext_;
  binding::Options binding_opts_;
  std::optional<ea::Request> peer_request_;
};

}  // namespace exattest::inband
