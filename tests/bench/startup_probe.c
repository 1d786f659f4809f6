/* Benchmark 4 (issue #7): the smallest OpenSSL TLS program. Loads the configuration
 * (OPENSSL_CONF: with exattest, the provider module and its config keys, PROTOCOL.md §8)
 * and creates one SSL_CTX (with exattest, the ex_data constructors and the tls_flags
 * extension run), then exits. spawn_timer runs it many times with and without exattest. */
#include <openssl/ssl.h>

int main(void) {
  if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1) return 1;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) return 1;
  SSL_CTX_free(ctx);
  return 0;
}
