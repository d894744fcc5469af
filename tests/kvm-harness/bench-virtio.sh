#!/bin/sh
# `actorvisor bench virtio` inside the KVM harness's L1 (run it on the host as
#   KVM_HARNESS_SILENCE=900 KVM_HARNESS_TIMEOUT=3600 \
#     flock /tmp/actorvisor-harness.lock tests/kvm-harness/run.sh --command "tests/kvm-harness/bench-virtio.sh [ARGS]"
# after `dotnet build src/Host -c Release`): builds the initramfs both VMMs boot (static busybox, the L1's virtio_mmio,
# virtio_pci and virtio_blk modules with what modules.dep says they need, and an /init that reads /dev/vda twice with
# dd bs=1M iflag=direct and prints the disk's size and the guest's uptime around the second read after the marker (this
# busybox's dd prints no timing line), then reboots), and runs the bench with
# the L1's kernel (/boot/vmlinuz-*): Actorvisor's disk is virtio-mmio (announced in its ACPI DSDT), QEMU's is
# `-drive if=virtio` (virtio-pci). ARGS go to the bench (e.g. --runs 7, --disk-size 32M: in the nested L1 a guest reads
# a virtio disk at a few MB/s, so 256 MiB read twice takes ~6 minutes a boot). The disk image goes to /tmp (the L1's tmpfs).
# virtio-net's bench adds its modules to MODULES and its part of /init below.
# Runs from the repository root; DOTNET is the dotnet executable (set by the harness).
set -eu
MODULES="virtio_mmio virtio_pci virtio_blk"
work=$(mktemp -d /tmp/bench-virtio.XXXXXX)
. "$(dirname "$0")/initramfs-root.sh"
initramfs_root "$work/root" bench-virtio $MODULES
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /modules/$m 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b /dev/vda ]; then
  dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null
  start=$(cut -d' ' -f1 /proc/uptime)
  dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null
  end=$(cut -d' ' -f1 /proc/uptime)
  echo "ACTORVISOR-VIRTIO-BLK bytes=$(($(cat /sys/block/vda/size) * 512)) start_s=$start end_s=$end"
else
  echo "ACTORVISOR-VIRTIO-FAILED no /dev/vda"; dmesg | tail -n 30
fi
reboot -f
INIT
chmod 755 "$work/root/init"
mknod "$work/root/dev/console" c 5 1
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
"${DOTNET:-dotnet}" src/Host/bin/Release/net10.0/actorvisor.dll bench virtio --initrd "$work/initramfs.cpio" --work-dir "$work" "$@"
