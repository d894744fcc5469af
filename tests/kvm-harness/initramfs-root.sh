# Sourced by the harness's Linux benches (bench-virtio.sh: its block and network parts): the root of the initramfs both VMMs
# boot, from the L1's newest kernel (/boot/vmlinuz-*) and its /lib/modules.
#
# init_preamble: prints the start of an /init both benches share: busybox's applets installed, /proc, /sys and /dev
# mounted, the modules loaded in modules.order, a counter i=0 for the caller's wait loop.
#
# initramfs_root ROOT WHO MODULE...: makes ROOT/bin (the static busybox), ROOT/dev, ROOT/proc, ROOT/sys, ROOT/modules
# with each MODULE and what modules.dep says it needs, and ROOT/modules.order listing them in load order (each
# module's dependencies, the deepest last in modules.dep, then the module; once each). WHO names the caller in errors.
initramfs_root() {
  root=$1 who=$2
  shift 2
  release=$(basename "$(ls /boot/vmlinuz-* | sort | tail -n 1)" | sed 's/^vmlinuz-//')
  moddir=/lib/modules/$release
  mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/modules"
  cp /usr/bin/busybox "$root/bin/busybox"
  : >"$root/modules.order"
  for m in "$@"; do
    line=$(grep -m1 "/$m\.ko:" "$moddir/modules.dep") || { echo "$who: $m.ko is not in $moddir/modules.dep (built in or compressed?)" >&2; exit 1; }
    deps=""
    for d in ${line#*:}; do deps="$d $deps"; done
    for f in $deps ${line%%:*}; do
      name=$(basename "$f")
      grep -qx "$name" "$root/modules.order" && continue
      cp "$moddir/$f" "$root/modules/$name"
      echo "$name" >>"$root/modules.order"
    done
  done
}

init_preamble() {
  cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /modules/$m 2>/dev/null; done
i=0
INIT
}
