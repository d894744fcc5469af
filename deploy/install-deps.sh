#!/usr/bin/env bash
# Installs the Debian packages Actorvisor needs at run time, only when missing.
#   deploy/install-deps.sh            runtime deps (libunicorn2 for the software accelerator)
#   deploy/install-deps.sh --kvm-harness   also what the KVM-in-QEMU test harness needs
set -euo pipefail
pkgs=(libunicorn2)
if [[ "${1:-}" == "--kvm-harness" ]]; then
  pkgs+=(qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "actorvisor: missing Debian packages: ${missing[*]}" >&2
    echo "actorvisor: run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
else SUDO=""; fi
echo "actorvisor: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
