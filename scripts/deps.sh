#!/usr/bin/env bash
# Installs the Debian 12 packages postern needs to build, test and benchmark.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get;
# says clearly what to install by hand when it cannot.
set -euo pipefail

packages=(
  g++ make pkg-config
  liburing-dev libssl-dev libexpat1-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  openssl python3-websockets
  nftables   # the firewall of scripts/netns-topology.sh (tests/scenario/test_reverse_netns.py)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  echo "deps.sh: cannot install packages (not root, no password-less sudo)." >&2
  echo "deps.sh: run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  "${apt[@]}" update -qq >/dev/null 2>&1 || true
  if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
    echo "deps.sh: apt-get could not install: ${missing[*]}" >&2
    echo "deps.sh: check the Debian mirror in /etc/apt/sources.list and retry." >&2
    exit 1
  fi
fi
echo "deps.sh: done" >&2
