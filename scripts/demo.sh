#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts swtpm and shows attestation at work.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ -x scripts/demo-run.sh ]; then
  exec scripts/demo-run.sh
fi
echo "demo: built build/lib/ossl-modules/exattest.so, build/lib/libexattest-shim.so, build/bin/exattest."
echo "demo: the attested connection end to end is not implemented yet; nothing more to show."
