#!/bin/sh
# `actorvisor bench boot` inside the KVM harness's L1 (run it on the host as
#   KVM_HARNESS_SILENCE=900 KVM_HARNESS_TIMEOUT=3600 \
#     flock /tmp/actorvisor-harness.lock tests/kvm-harness/run.sh --command "tests/kvm-harness/bench-boot.sh [ARGS]"
# after `dotnet build src/Host -c Release`): builds the initramfs both VMMs boot (static busybox and an /init that prints
# the marker line with nproc, MemTotal and the guest's uptime, then reboots 3 s later: the bench reads KVM's statistics
# of the VM at the marker, which must still exist then), makes KVM's statistics readable
# (debugfs), and runs the bench with the L1's kernel (/boot/vmlinuz-*) on both sides. ARGS go to the bench
# (e.g. --runs 3 --vcpus 2). The bench prints a line per boot only: one nested Linux boot can outlast the harness's
# default silence watchdog on a loaded machine, hence the longer bounds above. Runs from the repository root; DOTNET is the dotnet executable (set by the harness).
set -eu
work=$(mktemp -d /tmp/bench-boot.XXXXXX)
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc"
cp /usr/bin/busybox "$work/root/bin/busybox"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "ACTORVISOR-LINUX-UP nproc=$(/bin/busybox nproc) memtotal_kb=$(/bin/busybox awk '/^MemTotal/ {print $2}' /proc/meminfo) uptime_s=$(/bin/busybox cut -d' ' -f1 /proc/uptime)"
/bin/busybox sleep 3
/bin/busybox reboot -f
INIT
chmod 755 "$work/root/init"
mknod "$work/root/dev/console" c 5 1
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
mountpoint -q /sys/kernel/debug 2>/dev/null || mount -t debugfs none /sys/kernel/debug 2>/dev/null || echo "bench-boot: no debugfs: KVM's exit statistics will be missing" >&2
"${DOTNET:-dotnet}" src/Host/bin/Release/net10.0/actorvisor.dll bench boot --initrd "$work/initramfs.cpio" "$@"
