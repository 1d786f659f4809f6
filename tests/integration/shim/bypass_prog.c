/* Stands in for a program with a statically linked OpenSSL (issue #11 item 3): it exports
 * its own SSL_read and SSL_do_handshake from the executable (linked with ENABLE_EXPORTS, as
 * a static OpenSSL's are), so the dynamic linker resolves those names to it, before the
 * preloaded shim. It prints "ran" when it gets to main. */
#include <stdio.h>

int SSL_read(void *ssl, void *buf, int num) {
  (void)ssl, (void)buf, (void)num;
  return -1;
}
int SSL_do_handshake(void *ssl) {
  (void)ssl;
  return -1;
}

int main(void) {
  puts("ran");
  return 0;
}
