#!/bin/busybox sh
# /init of the KVM harness initramfs, run by the kernel inside the QEMU-emulated host (L1).
# Loads kvm-amd and the 9p modules, mounts the real host's / read-only at /host, builds a small root
# from the host's /usr, /etc and the test output directory (a plain chroot into /host breaks CoreCLR),
# runs the KVM test executable with the host's dotnet and powers off. Everything it prints goes to the
# serial console, which tests/kvm-harness/run.sh reads: its own lines start with KVMHARNESS, the
# tests' with KVMTEST.
export PATH=/bin:/sbin
/bin/busybox --install -s /bin
say() { echo "KVMHARNESS $*"; }
halt() { sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }

mkdir -p /proc /sys /dev /host /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say "booted: $(cut -d' ' -f1 /proc/uptime)s"

for m in $(cat /modules.order); do
  insmod "/modules/$m" || say "insmod $m failed"
done
if [ ! -c /dev/kvm ]; then
  say "ERROR no /dev/kvm after loading kvm-amd (does the CPU model offer SVM?)"
  dmesg | grep -iE 'kvm|svm' | tail -n 20
  halt
fi
say "kvm ready: $(cut -d' ' -f1 /proc/uptime)s, $(dmesg | grep -ciE 'nested (virtualization|paging) enabled') nested features"

# --vfio runs (kvmharness.vfio=1): the L1 has an emulated Intel IOMMU and QEMU's "edu" PCI device (1234:11e8);
# bind it to vfio-pci so that its IOMMU group appears as /dev/vfio/N for the real-VFIO tests. A failure here
# is reported and leaves those tests to skip; the other tests run as usual.
if grep -q 'kvmharness\.vfio=1' /proc/cmdline; then
  for m in $(cat /modules-vfio.order); do
    insmod "/modules/$m" || say "insmod $m failed"
  done
  edu=""
  for d in /sys/bus/pci/devices/*; do
    [ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && edu=$d
  done
  if [ -z "$edu" ]; then
    say "vfio: no edu PCI device (1234:11e8) found"
  elif [ ! -e "$edu/iommu_group" ]; then
    say "vfio: $(basename $edu) has no IOMMU group (is the IOMMU on? dmesg: $(dmesg | grep -iE 'DMAR|IOMMU' | tail -n 2 | tr '\n' ' '))"
  else
    echo vfio-pci > "$edu/driver_override"
    echo "$(basename $edu)" > /sys/bus/pci/drivers_probe
    group=$(basename "$(readlink "$edu/iommu_group")")
    if [ -c "/dev/vfio/$group" ]; then
      say "vfio: $(basename $edu) bound to $(basename "$(readlink "$edu/driver")"), group /dev/vfio/$group"
    else
      say "vfio: binding $(basename $edu) to vfio-pci gave no /dev/vfio/$group ($(dmesg | grep -i vfio | tail -n 2 | tr '\n' ' '))"
    fi
  fi
fi

job=$(sed -n 's/.*kvmharness\.job=\([^ ]*\).*/\1/p' /proc/cmdline)
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host; then
  say "ERROR cannot mount the host filesystem over 9p"
  halt
fi
if [ -z "$job" ] || [ ! -f "/host$job/job.env" ]; then
  say "ERROR no job file (kvmharness.job=$job)"
  halt
fi
# Defines TEST_DIR, TEST_DLL, DOTNET, DOTNET_DIR and sets "$@" to the test arguments; with run.sh --command also
# COMMAND (TEST_DIR is then the repository).
. "/host$job/job.env"

R=/newroot
mkdir -p $R
mount -t tmpfs -o size=512m tmpfs $R
mkdir -p $R/usr $R/etc $R/proc $R/sys $R/dev $R/tmp $R/run "$R$TEST_DIR"
mount -o bind /host/usr $R/usr
mount -o bind /host/etc $R/etc
# The host's kernel: the Linux-guest tests boot its bzImage as an Actorvisor guest.
if [ -d /host/boot ]; then mkdir -p $R/boot; mount -o bind /host/boot $R/boot; fi
mount -o bind "/host$TEST_DIR" "$R$TEST_DIR"
case "$DOTNET_DIR" in
  /usr/*) ;;
  *) mkdir -p "$R$DOTNET_DIR"; mount -o bind "/host$DOTNET_DIR" "$R$DOTNET_DIR" ;;
esac
for d in bin lib lib64 sbin; do [ -e /host/usr/$d ] && ln -s usr/$d $R/$d; done
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -o bind /dev $R/dev
mount -t cgroup2 none $R/sys/fs/cgroup 2>/dev/null
# tracefs: tests count the kernel's tracepoints (e.g. KVM's async page faults) from /sys/kernel/tracing.
mount -t tracefs nodev $R/sys/kernel/tracing 2>/dev/null
chmod 1777 $R/tmp

if [ -n "${COMMAND:-}" ]; then
  # run.sh --command: the command instead of the tests, its output line by line as KVMCMD lines, then its status.
  say "starting the command: $(cut -d' ' -f1 /proc/uptime)s"
  ( chroot $R /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TMPDIR=/tmp \
      DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET="$DOTNET" \
      /bin/sh -c "cd '$TEST_DIR' && $COMMAND" 2>&1; echo "$?" >/tmp/command.rc ) |
    while IFS= read -r line; do echo "KVMCMD $line"; done # line by line, unbuffered: the host's watchdog sees progress
  say "COMMAND-EXIT rc=$(cat /tmp/command.rc 2>/dev/null || echo 125) after $(cut -d' ' -f1 /proc/uptime)s"
  halt
fi

say "starting tests: $(cut -d' ' -f1 /proc/uptime)s"
chroot $R /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
  "$DOTNET" "$TEST_DIR/$TEST_DLL" "$@" 2>&1
rc=$?
say "EXIT rc=$rc after $(cut -d' ' -f1 /proc/uptime)s"
halt
