/* The provider <-> shim contract (ARCHITECTURE.md "The provider <-> shim contract").
 *
 * The shim (libexattest-shim.so, LD_PRELOADed) exports exattest_shim_register(). The
 * provider looks it up with dlsym(RTLD_DEFAULT, EXATTEST_SHIM_REGISTER_SYMBOL) during
 * OSSL_provider_init and hands it a table of callbacks. If the lookup fails the shim is
 * absent and the provider advertises nothing. The shim never includes provider headers and
 * never does policy or crypto; the provider never calls SSL_read/SSL_write. */
#ifndef EXATTEST_SHIM_H
#define EXATTEST_SHIM_H

#include <stddef.h>
#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXATTEST_SHIM_ABI_VERSION 1
#define EXATTEST_SHIM_REGISTER_SYMBOL "exattest_shim_register"

/* Return values of exattest_shim_ops.step(). */
enum exattest_step {
  EXATTEST_STEP_FAIL = -1,  /* exchange failed; an OpenSSL error with the reason is queued */
  EXATTEST_STEP_DONE = 0,   /* nothing (more) to do: the application may use the connection */
  EXATTEST_STEP_WRITE = 1,  /* write *out_len bytes at *out, then call wrote() */
  EXATTEST_STEP_READ = 2    /* read exactly up to *out_len bytes and pass them to feed() */
};

struct exattest_shim_ops {
  int abi_version; /* EXATTEST_SHIM_ABI_VERSION */

  /* The handshake on `ssl` has just completed (or the application is about to use a
   * connection whose handshake completed). Decides whether the in-band exchange runs on it.
   * Idempotent. Returns 1 when it runs, 0 for a plain connection, -1 to fail the connection
   * (error queued, e.g. not_negotiated under request = require). */
  int (*begin)(SSL *ssl);

  /* The next action of the exchange on `ssl`. WRITE: *out and *out_len give bytes owned by
   * the provider and stable until wrote() (so non-blocking retries pass the same buffer).
   * READ: *out_len is the most bytes to read now (never more than the exchange needs, so no
   * application byte is ever consumed). */
  int (*step)(SSL *ssl, const unsigned char **out, size_t *out_len);

  /* `n` bytes of the last WRITE were written. */
  void (*wrote)(SSL *ssl, size_t n);

  /* Bytes read for the last READ. Returns 1, or 0 on failure (error queued; step() will
   * then return FAIL). in == NULL, len == 0: a read or write of the exchange hit the end of
   * the connection or a fatal error (SSL_ERROR_ZERO_RETURN / SYSCALL / SSL) before the
   * exchange was done; the provider queues its reason (PROTOCOL.md §5: "a peer MUST treat
   * a plain close the same way") and the shim fails the connection. errno is then the
   * system error of the failed call (SSL_ERROR_SYSCALL), or 0, so the reason can name it.
   * WANT_READ/WANT_WRITE are never fed. */
  int (*feed)(SSL *ssl, const unsigned char *in, size_t len);

  /* Whether the application may resume `sess` on `ssl` (SSL_set_session filter):
   * 0 on configurations that attest, where resumption is never used. Called with
   * ssl == NULL and sess == NULL it answers for the process: 0 means its configuration
   * requests or offers attestation, so no connection issues tickets, resumes, or sends or
   * accepts early data (the shim holds num_tickets/max_early_data at 0, drops PSK and
   * session-cache callbacks, and turns the 0-RTT calls into gated 1-RTT ones). */
  int (*session_allowed)(SSL *ssl, SSL_SESSION *sess);

  /* The connection object is being reused for a new handshake: forget its exchange. */
  void (*reset)(SSL *ssl);
};

/* Exported by the shim. Returns 1 when registered; 0 on an ABI mismatch. The table must
 * outlive the process (the provider module is linked -z nodelete). */
typedef int (*exattest_shim_register_fn)(const struct exattest_shim_ops *ops);
int exattest_shim_register(const struct exattest_shim_ops *ops);

/* Issue #11 item 3: a program whose own SSL functions shadow the shim's (a statically linked
 * OpenSSL exporting SSL_read, SSL_do_handshake, ... from the executable) never calls the
 * shim, so no exchange could ever run in it. The shim checks this once, in its load-time
 * constructor: dlsym(RTLD_DEFAULT, name) of each name it wraps must land in the shim itself.
 * exattest_shim_bypassed() returns NULL when they all do, else a static, NUL-terminated
 * text naming the first one that does not and the object it resolves to (for messages).
 * The shim has then already printed its one line on stderr (and, under request = require
 * without EXATTEST_ALLOW_BYPASS=1, refused to run). A provider that sees non-NULL never
 * advertises the tls_flags; under request = require it fails every handshake it sees.
 * A provider that finds no such symbol (an older shim) assumes NULL. */
#define EXATTEST_SHIM_BYPASS_SYMBOL "exattest_shim_bypassed"
typedef const char *(*exattest_shim_bypassed_fn)(void);
const char *exattest_shim_bypassed(void);

#ifdef __cplusplus
}
#endif

#endif /* EXATTEST_SHIM_H */
