#!/usr/bin/env bash
# Installs the Debian packages Actorvisor needs at run time, only when missing.
#   deploy/install-deps.sh            runtime deps (libunicorn2 for the software accelerator)
#   deploy/install-deps.sh --kvm-harness   also what the KVM-in-QEMU test harness needs
#   deploy/install-deps.sh --under-load    also stress-ng, the CPU hog of `tests/run.sh --under-load`
#   deploy/install-deps.sh --browser       also chromium, the headless browser of the web view's test (tests/run.sh uses it)
# The options can be combined.
set -euo pipefail
pkgs=(libunicorn2)
for option in "$@"; do
  case "$option" in
    --kvm-harness) pkgs+=(qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils) ;;
    --under-load) pkgs+=(stress-ng) ;;
    --browser) pkgs+=(chromium) ;;
    *) echo "install-deps: unknown option '$option' (--kvm-harness, --under-load, --browser)" >&2; exit 2 ;;
  esac
done
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
