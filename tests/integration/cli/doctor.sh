#!/usr/bin/env bash
# `exattest doctor` on a good configuration (everything ok, exit 0) and on broken ones: each
# FAIL line names what is wrong (the missing module path, the bad key, ...), exit 1.
#   SCRIPT EXATTEST WORK MODULE_PATH SHIM_PATH
source "$(dirname "$0")/lib.sh"
MODULE=${1:?module path}
SHIM_SO=${2:?shim path}
SRC_CONF_NGINX=$(cd "$(dirname "$0")/../../.." && pwd)/conf/nginx.conf
# The exattest CLI of a sanitizer build is ASan-linked: the ASan runtime must come first.
SHIM=${EXATTEST_ASAN_PRELOAD:+$EXATTEST_ASAN_PRELOAD:}$SHIM_SO
TCTI=$(fixture_tcti)
cd "$WORK"
[ -f "$MODULE" ] || fail "the provider module $MODULE is not built"
[ -f "$SHIM_SO" ] || fail "the shim $SHIM_SO is not built"

run "$EXATTEST" policy create --tcti "$TCTI" -o policy.json
expect_rc 0 "policy create"
AK=$("$EXATTEST" ak --tcti "$TCTI" | tail -1)

# write_conf FILE MODULE [extra exattest_sect lines] (PROTOCOL.md §8 layout).
write_conf() {
  local file=$1 module=$2
  shift 2
  {
    printf 'openssl_conf = openssl_init\n\n[openssl_init]\nproviders = provider_sect\n\n'
    printf '[provider_sect]\ndefault = default_sect\nexattest = exattest_sect\n\n'
    printf '[default_sect]\nactivate = 1\n\n'
    printf '[exattest_sect]\nmodule = %s\nactivate = 1\n' "$module"
    printf 'request = require\nattest = tpm2\ntcti = %s\npcrs = sha256:0,1,2,3,4,5,6,7\n' "$TCTI"
    printf 'policy = %s\n' "$WORK/policy.json"
    for line in "$@"; do printf '%s\n' "$line"; done
  } >"$file"
}
# doctor with only this config in the environment (no stray EXATTEST_* variables).
doctor() {  # CONF [VAR=VALUE...] [DOCTOR OPTIONS...]
  local conf=$1 vars=()
  shift
  while [ $# -gt 0 ] && [[ $1 == *=* ]]; do vars+=("$1"); shift; done
  run env -u EXATTEST_TCTI -u EXATTEST_POLICY -u EXATTEST_REQUEST -u EXATTEST_ATTEST \
    OPENSSL_CONF="$conf" "${vars[@]}" "$EXATTEST" doctor "$@"
}
has_line() {  # REGEX WHAT
  grep -qE -- "$1" "$WORK/out" || fail "$2: no line matching '$1'"
}

# 1. Good configuration, shim preloaded: everything ok.
write_conf good.cnf "$MODULE"
doctor "$WORK/good.cnf" LD_PRELOAD="$SHIM"
expect_rc 0 "doctor on a good configuration"
grep -q '^FAIL' "$WORK/out" && fail "good configuration has a FAIL line"
has_line "^ok +config: $WORK/good.cnf \(OPENSSL_CONF\), exattest provider \`exattest\` in \[exattest_sect\]" "good"
has_line "^ok +module: $MODULE exists$" "good"
has_line "^ok +load: OpenSSL loads the exattest provider from $WORK/good.cnf$" "good"
has_line "^ok +activate: " "good"
has_line "^ok +default provider: activated$" "good"
has_line "^ok +settings: request = require, attest = tpm2, tcti = $TCTI, " "good"
has_line "^ok +tpm2 module: $(dirname "$MODULE")/exattest-tpm2.so exists" "good"
has_line "^ok +tpm: reachable at tcti=$TCTI; AK $AK$" "good"
has_line "^ok +policy: $WORK/policy.json loads \(1 trusted AK\(s\), 8 PCR reference\(s\)\)$" "good"
has_line "^ok +shim: libexattest-shim is preloaded in this process$" "good"

# 2. The module path does not exist (OpenSSL would skip it silently): FAIL naming the path.
write_conf missing-module.cnf "$WORK/nowhere/exattest.so"
doctor "$WORK/missing-module.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor with a missing module"
has_line "^FAIL +module: $WORK/nowhere/exattest.so does not exist" "missing module"
[ "$(grep -c '^FAIL' "$WORK/out")" = 1 ] || fail "missing module: other checks failed too"

# exattest.so without exattest-tpm2.so beside it: attest = tpm2 cannot quote.
mkdir -p "$WORK/lonely"
cp "$MODULE" "$WORK/lonely/exattest.so"
write_conf lonely.cnf "$WORK/lonely/exattest.so"
doctor "$WORK/lonely.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "module without exattest-tpm2.so"
has_line "^ok +module: $WORK/lonely/exattest.so exists$" "lonely module"
has_line "^FAIL +tpm2 module: $WORK/lonely/exattest-tpm2.so does not exist; with attest = tpm2" \
  "lonely module"
[ "$(grep -c '^FAIL' "$WORK/out")" = 1 ] || fail "lonely module: other checks failed too"

# 3. A misspelt key: FAIL naming the key (PROTOCOL.md §8 "an error at load, naming the key").
write_conf bad-key.cnf "$MODULE" "requets = off"
doctor "$WORK/bad-key.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor with an unknown key"
has_line '^FAIL +settings: .*unknown key `requets`' "unknown key"
# OpenSSL itself refuses to load the provider with that key.
has_line '^FAIL +load: OpenSSL cannot load the exattest provider' "unknown key"

# 4. An EXATTEST_<KEY> override with a bad value is named as the variable.
doctor "$WORK/good.cnf" LD_PRELOAD="$SHIM" EXATTEST_REQUEST=always
expect_rc 1 "doctor with EXATTEST_REQUEST=always"
has_line '^FAIL +settings: .*EXATTEST_REQUEST' "bad environment override"

# 5. The default provider is not activated.
sed 's/^default = default_sect$//' good.cnf >no-default.cnf
doctor "$WORK/no-default.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor without the default provider"
has_line '^FAIL +default provider: not configured' "no default provider"

# 6. The shim is not preloaded while the configuration attests.
doctor "$WORK/good.cnf"
expect_rc 1 "doctor without the shim"
has_line '^FAIL +shim: not preloaded; run the program with LD_PRELOAD=' "no shim"

# 7. The TPM is unreachable while attest = tpm2.
PORT=$(free_port)
sed "s/^tcti = .*/tcti = swtpm:host=127.0.0.1,port=$PORT/" good.cnf >no-tpm.cnf
doctor "$WORK/no-tpm.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor without a TPM"
has_line "^FAIL +tpm: no TPM at tcti=swtpm:host=127.0.0.1,port=$PORT" "no TPM"

# 8. The policy file is invalid.
echo '{"version": 2}' >bad-policy.json
sed "s|^policy = .*|policy = $WORK/bad-policy.json|" good.cnf >bad-policy.cnf
doctor "$WORK/bad-policy.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor with an invalid policy"
has_line '^FAIL +policy: .*version' "invalid policy"

# 8b. A policy that judges no PCR on purpose ("pcrs": "any"): it loads, with a WARN line,
# and the exit code stays 0; without `pcrs` at all it is refused (issue #11 item 10).
printf '{"version": 1, "trusted_aks": ["%s"], "pcrs": "any"}\n' "$AK" >any-policy.json
sed "s|^policy = .*|policy = $WORK/any-policy.json|" good.cnf >any-policy.cnf
doctor "$WORK/any-policy.cnf" LD_PRELOAD="$SHIM"
expect_rc 0 "doctor with \"pcrs\": \"any\""
has_line "^ok +policy: $WORK/any-policy.json loads \(1 trusted AK\(s\), 0 PCR reference\(s\)\)$" "pcrs any"
has_line '^WARN +policy: "pcrs": "any" accepts any boot state' "pcrs any"
printf '{"version": 1, "trusted_aks": ["%s"]}\n' "$AK" >no-pcrs-policy.json
sed "s|^policy = .*|policy = $WORK/no-pcrs-policy.json|" good.cnf >no-pcrs-policy.cnf
doctor "$WORK/no-pcrs-policy.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor with a policy without pcrs"
has_line '^FAIL +policy: .*field "pcrs" is missing; a policy must judge the boot explicitly' "no pcrs"

# 9. No `openssl_conf =` line: OpenSSL ignores the whole provider configuration.
grep -v '^openssl_conf' good.cnf >no-init.cnf
doctor "$WORK/no-init.cnf" LD_PRELOAD="$SHIM"
expect_rc 1 "doctor without openssl_conf"
has_line '^FAIL +config: .*has no `openssl_conf = openssl_init` line' "no openssl_conf"

# 10. --nginx CONF (issue #11 item 6): an ssl server block without TLSv1.3 in its effective
# ssl_protocols (nginx 1.22's default has none) and a proxy_pass https:// without it in
# proxy_ssl_protocols are WARN lines (exit 0); blocks that enable TLSv1.3 pass; an unreadable
# file is a FAIL.
cat >nginx-bad.conf <<'NGX'
events {}
http {
    server { listen 80; }
    server {
        listen 443 ssl;   # no ssl_protocols: nginx 1.22 defaults to TLSv1 TLSv1.1 TLSv1.2
        location / { proxy_pass https://upstream.example; }
    }
    server {
        listen 8443 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_ssl_protocols TLSv1.3; proxy_pass https://good.example; }
    }
}
NGX
doctor "$WORK/good.cnf" LD_PRELOAD="$SHIM" --nginx "$WORK/nginx-bad.conf"
expect_rc 0 "doctor --nginx with a server block lacking TLSv1.3 (WARN only)"
has_line "^WARN +nginx: $WORK/nginx-bad.conf:4: server block with ssl has ssl_protocols TLSv1 TLSv1.1 TLSv1.2 \(no TLSv1.3\): its connections never attest; add .ssl_protocols TLSv1.3;.$" "nginx server"
has_line "^WARN +nginx: $WORK/nginx-bad.conf:6: proxy_pass https://upstream.example uses proxy_ssl_protocols TLSv1 TLSv1.1 TLSv1.2 \(no TLSv1.3\)" "nginx proxy"
[ "$(grep -cE '^WARN +nginx' "$WORK/out")" = 2 ] || fail "nginx: expected exactly 2 WARN lines"
doctor "$WORK/good.cnf" LD_PRELOAD="$SHIM" --nginx "$SRC_CONF_NGINX"
expect_rc 0 "doctor --nginx conf/nginx.conf"
has_line "^ok +nginx: $SRC_CONF_NGINX: 1 server block\(s\) with ssl, each with TLSv1.3 in ssl_protocols$" "conf/nginx.conf"
doctor "$WORK/good.cnf" LD_PRELOAD="$SHIM" --nginx "$WORK/no-such-nginx.conf"
expect_rc 1 "doctor --nginx with a missing file"
has_line "^FAIL +nginx: cannot read $WORK/no-such-nginx.conf$" "missing nginx.conf"
echo "PASS"
