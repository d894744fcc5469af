#!/bin/sh
# `actorvisor bench virtio-net` inside the KVM harness's L1 (run it on the host as
#   KVM_HARNESS_SILENCE=900 KVM_HARNESS_TIMEOUT=3600 \
#     flock /tmp/actorvisor-harness.lock tests/kvm-harness/run.sh --command "tests/kvm-harness/bench-virtio-net.sh [ARGS]"
# after `dotnet build src/Host -c Release`): loads the L1's tun module, builds the initramfs both VMMs boot (static
# busybox, the L1's virtio_mmio and virtio_net with what modules.dep says they need, and an /init that brings eth0 up at
# 10.233.0.2/24, prints ACTORVISOR-NET-UP and waits to be stopped), and runs the bench with the L1's kernel
# (/boot/vmlinuz-*): both VMMs' cards are virtio-mmio on a tap, which the bench moves into a network namespace and pings
# the guest from. ARGS go to the bench (e.g. --runs 5). Runs from the repository root; DOTNET is the dotnet executable.
set -eu
MODULES="virtio_mmio virtio_net"
[ -c /dev/net/tun ] || modprobe tun
work=$(mktemp -d /tmp/bench-virtio-net.XXXXXX)
. "$(dirname "$0")/initramfs-root.sh"
initramfs_root "$work/root" bench-virtio-net $MODULES
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /modules/$m 2>/dev/null; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip addr add 10.233.0.2/24 dev eth0 && ip link set eth0 up && echo "ACTORVISOR-NET-UP $(cat /sys/class/net/eth0/address)" \
  || { echo "ACTORVISOR-NET-FAILED"; dmesg | tail -n 30; }
while true; do sleep 3600; done
INIT
chmod 755 "$work/root/init"
mknod "$work/root/dev/console" c 5 1
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
"${DOTNET:-dotnet}" src/Host/bin/Release/net10.0/actorvisor.dll bench virtio-net --initrd "$work/initramfs.cpio" "$@"
