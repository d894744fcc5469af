#!/usr/bin/env bash
# Builds the L1 image of the KVM harness for kernel VERSION into DIR:
#   DIR/vmlinux         the uncompressed kernel ELF from /boot/vmlinuz-VERSION; QEMU boots it through its
#                       PVH entry point, skipping the firmware and the kernel's self-decompression
#   DIR/initrd.cpio.gz  static busybox, /init (init.sh) and the modules kvm-amd and the virtio 9p
#                       client need, with their dependencies in load order (from modules.dep); and,
#                       loaded only by a --vfio run, vfio, vfio_iommu_type1 and vfio-pci
# Usage: build-image.sh VERSION DIR
set -euo pipefail
export LC_ALL=C  # grep -P must match raw bytes, not UTF-8 characters
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- vmlinux: find the compressed payload inside the bzImage and decompress it ---
extract() { # extract MAGIC_HEX DECOMPRESSOR...
  local magic=$1; shift
  local off
  for off in $(grep -obUaP "$magic" "/boot/vmlinuz-$kver" | cut -d: -f1); do
    tail -c +$((off + 1)) "/boot/vmlinuz-$kver" | "$@" >"$tmp/vmlinux" 2>/dev/null || true
    if [[ $(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then return 0; fi
  done
  return 1
}
extract '\xfd7zXZ\x00' xz -dc || extract '\x28\xb5\x2f\xfd' zstd -dc || extract '\x1f\x8b\x08' gzip -dc \
  || { echo "build-image: no xz/zstd/gzip kernel ELF found in /boot/vmlinuz-$kver" >&2; exit 1; }

# --- initramfs ---
root=$tmp/root
mkdir -p "$root/bin" "$root/modules"
busybox=$(command -v busybox || true)
# ldd fails on a static executable; a dynamic busybox would find no libc in the initramfs.
[[ -n $busybox ]] && ! ldd "$busybox" >/dev/null 2>&1 \
  || { echo "build-image: a static busybox is needed (Debian package busybox-static)" >&2; exit 1; }
cp "$busybox" "$root/bin/busybox"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"

declare -A loaded=()
order=()
add_module() { # add_module kernel/path/name.ko[.xz|.zst]: its dependencies first (modules.dep lists them so that loading runs from last to first)
  local path=$1
  [[ -n ${loaded[$path]:-} ]] && return 0
  local deps; deps=$(grep -m1 "^$path:" "$moddir/modules.dep" | cut -d: -f2)
  local d i arr=($deps)
  for ((i = ${#arr[@]} - 1; i >= 0; i--)); do add_module "${arr[$i]}"; done
  loaded[$path]=1
  local name; name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}
  case "$path" in
    *.xz) xz -dc "$moddir/$path" >"$root/modules/$name" ;;
    *.zst) zstd -qdc "$moddir/$path" >"$root/modules/$name" ;;
    *) cp "$moddir/$path" "$root/modules/$name" ;;
  esac
  order+=("$name")
}
for m in kvm-amd virtio_pci 9pnet_virtio 9p; do
  path=$(grep -oE "^[^:]*/$m\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -n 1 | tr -d :)
  if [[ -z $path ]]; then
    grep -qE "/$m\.ko" "$moddir/modules.builtin" && continue
    echo "build-image: module $m is neither in $moddir/modules.dep nor built in" >&2; exit 1
  fi
  add_module "$path"
done
printf '%s\n' "${order[@]}" >"$root/modules.order"
# VFIO, loaded by /init only in a --vfio run (kvmharness.vfio=1); a normal run loads exactly the modules above.
base_count=${#order[@]}
order=()
for m in vfio vfio_iommu_type1 vfio-pci; do
  path=$(grep -oE "^[^:]*/$m\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -n 1 | tr -d :)
  [[ -n $path ]] && add_module "$path"
done
printf '%s\n' "${order[@]}" >"$root/modules-vfio.order"
vfio_modules=("${order[@]}")

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.cpio.gz"
mkdir -p "$out"
mv "$tmp/vmlinux" "$out/vmlinux"
mv "$tmp/initrd.cpio.gz" "$out/initrd.cpio.gz"
echo "build-image: $out/vmlinux ($(du -h "$out/vmlinux" | cut -f1)), initrd with $base_count modules (+ ${#vfio_modules[@]} for --vfio: ${vfio_modules[*]})"
