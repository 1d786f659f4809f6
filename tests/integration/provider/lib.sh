# Shared helpers of the provider integration tests (sourced).
set -euo pipefail

# Only what each test sets: no preloaded shim, no EXATTEST_* override from the caller.
# (EXATTEST_ASAN_PRELOAD is the test's own: the ASan runtime in a sanitizer build.)
unset LD_PRELOAD
ASAN_PRE=${EXATTEST_ASAN_PRELOAD:-}
for v in $(compgen -e); do
  case $v in EXATTEST_*) unset "$v" ;; esac
done

# An uninstrumented openssl that loads the ASan-built provider (OPENSSL_CONF set) needs the
# ASan runtime preloaded first; without OPENSSL_CONF it loads nothing of ours.
openssl() {
  if [ -n "$ASAN_PRE" ] && [ -n "${OPENSSL_CONF:-}" ]; then
    LD_PRELOAD=$ASAN_PRE command openssl "$@"
  else
    command openssl "$@"
  fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# write_conf FILE MODULE [extra exattest_sect lines...]: an OPENSSL_CONF loading the default
# provider and exattest (PROTOCOL.md §8 layout).
write_conf() {
  local file=$1 module=$2
  shift 2
  {
    echo "openssl_conf = openssl_init"
    echo "[openssl_init]"
    echo "providers = provider_sect"
    echo "[provider_sect]"
    echo "default = default_sect"
    echo "exattest = exattest_sect"
    echo "[default_sect]"
    echo "activate = 1"
    echo "[exattest_sect]"
    echo "module = $module"
    echo "activate = 1"
    local line
    for line in "$@"; do echo "$line"; done
  } > "$file"
}

# The "exattest" block of `openssl list -providers -verbose` (empty when not loaded).
exattest_block() {
  awk '/^  [^ ]/ { inblock = ($1 == "exattest") } inblock' "$1"
}

# A scratch directory under $1, removed on exit.
scratch() {
  mkdir -p "$1"
  WORK=$(mktemp -d "$1/provider.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
}
