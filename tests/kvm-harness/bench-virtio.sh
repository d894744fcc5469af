#!/bin/sh
# `actorvisor bench virtio` inside the KVM harness's L1 (run it on the host as
#   KVM_HARNESS_SILENCE=1800 KVM_HARNESS_TIMEOUT=3600 \
#     flock /tmp/actorvisor-harness.lock tests/kvm-harness/run.sh --command "tests/kvm-harness/bench-virtio.sh [ARGS]"
# after `dotnet build src/Host -c Release`): loads the L1's tun module and builds the two initramfs images both VMMs boot
# (static busybox and the L1's modules with what modules.dep says they need), then runs the bench with the L1's kernel
# (/boot/vmlinuz-*), which prints every virtio key:
# - block: virtio_mmio, virtio_pci, virtio_blk; /init reads /dev/vda twice with dd bs=1M iflag=direct and prints the
#   disk's size and the guest's uptime around the second read after the marker (this busybox's dd prints no timing
#   line), then reboots. Actorvisor's disk is virtio-mmio (announced in its ACPI DSDT), QEMU's `-drive if=virtio`
#   (virtio-pci). The disk image goes to /tmp (the L1's tmpfs).
# - network: virtio_mmio, virtio_net; /init brings eth0 up at 10.233.0.2/24, prints ACTORVISOR-NET-UP and waits to be
#   stopped; both VMMs' cards are virtio-mmio on a tap, which the bench moves into a network namespace and pings the
#   guest from.
# ARGS go to the bench (e.g. --runs 7, --disk-size 32M). ACTORVISOR_DLL runs another build of the executable (a copy under
# the repository, which is all of the host the L1 sees besides /usr and /etc, so that rebuilding src/Host meanwhile does not
# change it). Runs from the repository root; DOTNET is the dotnet executable.
set -eu
[ -c /dev/net/tun ] || modprobe tun
# KVM's per-VM exit counters, which the bench reads around each timed read.
[ -d /sys/kernel/debug/kvm ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
work=$(mktemp -d /tmp/bench-virtio.XXXXXX)
. "$(dirname "$0")/initramfs-root.sh"

initramfs_root "$work/blk" bench-virtio virtio_mmio virtio_pci virtio_blk
{ init_preamble; cat <<'INIT'; } >"$work/blk/init"
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b /dev/vda ]; then
  dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null
  echo ACTORVISOR-VIRTIO-BLK-TIMED
  start=$(cut -d' ' -f1 /proc/uptime)
  dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null
  end=$(cut -d' ' -f1 /proc/uptime)
  echo "ACTORVISOR-VIRTIO-BLK bytes=$(($(cat /sys/block/vda/size) * 512)) start_s=$start end_s=$end"
else
  echo "ACTORVISOR-VIRTIO-FAILED no /dev/vda"; dmesg | tail -n 30
fi
reboot -f
INIT

initramfs_root "$work/net" bench-virtio virtio_mmio virtio_net
{ init_preamble; cat <<'INIT'; } >"$work/net/init"
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip addr add 10.233.0.2/24 dev eth0 && ip link set eth0 up && echo "ACTORVISOR-NET-UP $(cat /sys/class/net/eth0/address)" \
  || { echo "ACTORVISOR-NET-FAILED"; dmesg | tail -n 30; }
while true; do sleep 3600; done
INIT

for part in blk net; do
  chmod 755 "$work/$part/init"
  mknod "$work/$part/dev/console" c 5 1
  (cd "$work/$part" && find . | cpio -o -H newc --quiet) >"$work/$part.cpio"
done
"${DOTNET:-dotnet}" "${ACTORVISOR_DLL:-src/Host/bin/Release/net10.0/actorvisor.dll}" bench virtio --initrd "$work/blk.cpio" --net-initrd "$work/net.cpio" --work-dir "$work" "$@"
