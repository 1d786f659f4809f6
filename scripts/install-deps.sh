#!/usr/bin/env bash
# Installs every Debian 12 package exattest's build, tests and demo need. Idempotent:
# when everything is present it does nothing; otherwise one `apt-get update`, one install.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libssl-dev openssl ca-certificates
  libcbor-dev libtss2-dev catch2 nlohmann-json3-dev
  swtpm swtpm-tools tpm2-tools
  nginx curl python3 procps iproute2
  clang libclang-rt-14-dev
  apache2 haproxy postgresql socat
  dpkg-dev lintian file
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The nginx, apache2, haproxy and postgresql packages would start their system services;
# exattest runs its own instances on free loopback ports, so forbid service starts during this install only.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
