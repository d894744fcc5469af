#!/usr/bin/env bash
# Runs the KVM tests (tests/Actorvisor.Kvm.Tests) against real KVM and reports each result.
#
#   tests/kvm-harness/run.sh [--mode auto|direct|qemu] [--filter TEXT]... [--exclude TEXT]... [--trx FILE]
#                            [--no-build] [--vfio]
#   tests/kvm-harness/run.sh [--mode ...] --command "SHELL COMMAND"
#
# direct: where /dev/kvm is hardware-assisted KVM (kvm_amd or kvm_intel), run the test executable here.
# qemu:   otherwise boot one small Linux VM under QEMU's software emulation (TCG emulates AMD SVM with
#         nested paging, so kvm_amd loads inside it), share this machine's / read-only over 9p, run the
#         same executable inside with this machine's dotnet, and read the results off the serial console.
# auto (default) picks direct when it can. Prints one line per test and a summary
# "KVM harness: N passed, N failed, N skipped"; exits non-zero on any failure, including an L1 that
# crashed or hung (one clean retry of such a run, shown in the log). --trx writes the results for tests/run.sh.
# --filter/--exclude keep/leave out the tests whose name contains TEXT (tests/run.sh: the normal run excludes
# VfioRealGroupTests, a second --vfio run filters them).
# --vfio (qemu mode only): the L1 is a q35 machine with an emulated Intel IOMMU and QEMU's edu PCI device,
# bound to vfio-pci inside, so that the real-VFIO tests (skipped otherwise) attach a real /dev/vfio group; an
# L1 that binds no group fails the run (the tests would only be skipped).
# --command: instead of the test executable, run SHELL COMMAND (sh -c) where the tests would run: directly, or inside
# the L1 as root in the same tmpfs root, with this repository bound at its own path (read-only), /dev/kvm, the host's
# /usr (dotnet, qemu-system-x86_64) and /boot; its output comes back line by line, and the harness exits with its exit
# status (a dead or hung L1: 125). Used for `actorvisor bench boot` (tests/kvm-harness/bench-boot.sh).
# Environment: KVM_HARNESS_TIMEOUT (seconds per QEMU boot, default 1200), KVM_HARNESS_SILENCE (seconds
# without serial output before the L1 counts as hung, default 180), KVM_HARNESS_SMP (L1 CPUs, default 1).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=auto; build=1; trx=""; vfio=0; test_args=(); command=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --filter) test_args+=(--filter "$2"); shift 2 ;;
    --exclude) test_args+=(--exclude "$2"); shift 2 ;;
    --trx) trx=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --vfio) vfio=1; shift ;;
    --command) command=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "kvm-harness: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$mode" in auto|direct|qemu) ;; *) echo "kvm-harness: --mode must be auto, direct or qemu" >&2; exit 2 ;; esac

timeout_s=${KVM_HARNESS_TIMEOUT:-1200}
silence_s=${KVM_HARNESS_SILENCE:-180}
smp=${KVM_HARNESS_SMP:-1}  # one TCG thread: faster here than two (no cross-CPU IPIs), and the mode seen most robust
project="$root/tests/Actorvisor.Kvm.Tests"
test_dir="$project/bin/Release/net10.0"
test_dll=Actorvisor.Kvm.Tests.dll
work=$(mktemp -d /tmp/kvm-harness.XXXXXX)
: >"$work/expected.txt"  # filled once the test list is known; empty if the build fails first
trap 'rm -rf "$work"' EXIT
log() { echo "kvm-harness: $*"; }
started=$SECONDS

finish() { # finish LOG [HARNESS_ERROR]
  local args=(--log "$1" --expected "$work/expected.txt" --label "KVM harness")
  [[ -n "${2:-}" ]] && args+=(--harness-error "$2")
  [[ -n "$trx" ]] && args+=(--trx "$trx")
  python3 "$here/results.py" "${args[@]}"
  local rc=$?
  log "mode $mode, $((SECONDS - started)) s in all"
  exit $rc
}

if [[ -n $command && ( $vfio -eq 1 || ${#test_args[@]} -gt 0 || -n $trx ) ]]; then
  echo "kvm-harness: --command runs a command instead of the tests: no --filter, --exclude, --trx or --vfio with it" >&2; exit 2
fi

# The command's exit status, or 125 when it did not finish (its L1 died or hung).
command_finish() { # command_finish LOG [HARNESS_ERROR]
  local rc
  if [[ -n "${2:-}" ]]; then
    log "the command did not finish: $2"; rc=125
  else
    rc=$(grep -a 'KVMHARNESS COMMAND-EXIT rc=' "$1" | tail -n 1 | tr -d '\r' | sed 's/.*rc=\([0-9]*\).*/\1/')
    rc=${rc:-125}
  fi
  log "command exit status $rc, mode $mode, $((SECONDS - started)) s in all"
  exit "$rc"
}

if [[ -n $command ]]; then
  build=0
  if [[ $mode == auto ]] && [[ -r /dev/kvm && -w /dev/kvm ]] && { [[ -d /sys/module/kvm_amd ]] || [[ -d /sys/module/kvm_intel ]]; }; then mode=direct; fi
  if [[ $mode == direct ]]; then
    log "running the command directly on /dev/kvm"
    (cd "$root" && timeout "$timeout_s" sh -c "$command"); rc=$?
    log "command exit status $rc, mode direct, $((SECONDS - started)) s in all"
    exit $rc
  fi
fi

if [[ $build -eq 1 ]]; then
  log "building $project (Release)"
  dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; echo "KVMTEST FAIL KvmHarness.Build: dotnet build failed" >"$work/none.log"; finish "$work/none.log" "build failed"; }
fi
if [[ -z $command ]]; then
  [[ -f "$test_dir/$test_dll" ]] || { echo >"$work/none.log"; finish "$work/none.log" "$test_dir/$test_dll is missing (build it or drop --no-build)"; }
  # The expected test list, so that tests an L1 crash kept from running show up as skipped.
  dotnet "$test_dir/$test_dll" --list "${test_args[@]}" >"$work/expected.txt" 2>&1 || true
fi

hardware_kvm() {
  [[ -r /dev/kvm && -w /dev/kvm ]] && { [[ -d /sys/module/kvm_amd ]] || [[ -d /sys/module/kvm_intel ]]; }
}
if [[ $mode == auto ]]; then
  # /dev/kvm backed by another module (e.g. a paravirtual one without SVM/VMX) does not behave like the
  # KVM users run on (real and protected mode are emulated there), so it does not count.
  if [[ $vfio -eq 0 ]] && hardware_kvm; then mode=direct; else mode=qemu; fi
fi

if [[ $mode == direct && $vfio -eq 1 ]]; then
  log "--vfio needs the QEMU-emulated host (--mode qemu): the edu device and IOMMU are QEMU's"
  echo >"$work/none.log"; finish "$work/none.log" "--vfio with --mode direct"
fi
if [[ $mode == direct ]]; then
  log "running the KVM tests directly on /dev/kvm"
  timeout "$timeout_s" dotnet "$test_dir/$test_dll" "${test_args[@]}" 2>&1 | tee "$work/direct.log"
  finish "$work/direct.log"
fi

# ---- qemu mode: the L1 image ----
if [[ -x "$root/deploy/install-deps.sh" ]]; then
  "$root/deploy/install-deps.sh" --kvm-harness || { echo >"$work/none.log"; finish "$work/none.log" "cannot install the harness packages"; }
else
  missing=()
  for p in qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || { echo >"$work/none.log"; finish "$work/none.log" "cannot install ${missing[*]}"; }
  fi
fi
kver=$(ls /lib/modules 2>/dev/null | sort -V | while read -r v; do [[ -f /boot/vmlinuz-$v ]] && echo "$v"; done | tail -n 1)
[[ -n "$kver" ]] || { echo >"$work/none.log"; finish "$work/none.log" "no kernel with modules in /boot and /lib/modules"; }
cache="$root/artifacts/kvm-harness/$kver"
stamp=$(cat "$here/init.sh" "$here/build-image.sh" | sha256sum | cut -c1-16)
mkdir -p "$cache"
(
  flock 9
  if [[ ! -f "$cache/vmlinux" || ! -f "$cache/initrd.cpio.gz" || "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ]]; then
    log "building the L1 image for kernel $kver into $cache"
    "$here/build-image.sh" "$kver" "$cache" && echo "$stamp" >"$cache/stamp"
  fi
) 9>"$cache/.lock"
[[ -f "$cache/stamp" ]] || { echo >"$work/none.log"; finish "$work/none.log" "building the L1 image failed"; }

# ---- qemu mode: the job the L1's /init reads over 9p ----
dotnet_bin=$(readlink -f "$(command -v dotnet)")
quote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
# A command gets the repository bound where the tests' directory would be.
[[ -n $command ]] && test_dir=$root
{
  echo "TEST_DIR=$(quote "$test_dir")"
  echo "TEST_DLL=$(quote "$test_dll")"
  echo "DOTNET=$(quote "$dotnet_bin")"
  echo "DOTNET_DIR=$(quote "$(dirname "$dotnet_bin")")"
  printf 'set --'; for a in "${test_args[@]}"; do printf ' %s' "$(quote "$a")"; done; echo
  [[ -n $command ]] && echo "COMMAND=$(quote "$command")"
} >"$work/job.env"
chmod -R a+rX "$work"

# --vfio: q35 with an emulated VT-d IOMMU (created before the PCI devices it translates for) with snoop control,
# so that VFIO_DMA_CC_IOMMU can answer yes, and the edu device to hand to vfio-pci; iommu=pt keeps the other
# devices (virtio-9p) on identity mappings.
machine=(); append_vfio=""
if [[ $vfio -eq 1 ]]; then
  machine=(-machine q35 -device intel-iommu,snoop-control=on -device edu)
  append_vfio=" intel_iommu=on iommu=pt kvmharness.vfio=1"
fi

# no_timer_check: the kernel's boot-time test of the IO-APIC timer (ten ticks within a TSC-timed busy wait) fails
# when this machine is loaded and QEMU's timer thread starves; with the --vfio IOMMU's interrupt remapping that
# is a panic ("timer doesn't work through Interrupt-remapped IO-APIC", seen under tests/run.sh --under-load).
done_marker='KVMTEST DONE'
[[ -n $command ]] && done_marker='KVMHARNESS COMMAND-EXIT'
boot() { # boot ATTEMPT -> sets boot_error ("" when the run reached $done_marker)
  local serial="$work/serial-$1.log"
  : >"$serial"
  log "attempt $1: booting QEMU (TCG, -cpu max, $smp CPUs${machine[*]:+, ${machine[*]}}), log $serial"
  timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp "$smp" \
    -nodefaults -no-user-config -display none -no-reboot -serial stdio "${machine[@]}" \
    -kernel "$cache/vmlinux" -initrd "$cache/initrd.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 no_timer_check kvmharness.job=$work$append_vfio" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    </dev/null >"$serial" 2>&1 &
  local qemu=$! last_size=-1 last_change=$SECONDS hung=""
  while kill -0 "$qemu" 2>/dev/null; do
    local size; size=$(stat -c %s "$serial")
    if [[ $size != "$last_size" ]]; then
      # Echo new KVMTEST/KVMHARNESS lines as they come, so a long run shows progress.
      tail -c +$((last_size < 0 ? 1 : last_size + 1)) "$serial" | tr -d '\r' | grep -aE 'KVMTEST (PASS|FAIL|SKIP)|KVMHARNESS|^KVMCMD' | sed -e 's/^KVMCMD //' -e 's/^/    /'
      # An L1 in a soft lockup or RCU stall keeps printing its complaints, so silence alone misses it.
      local stuck; stuck=$(tail -c +$((last_size < 0 ? 1 : last_size + 1)) "$serial" | tr -d '\r' | grep -aoE 'soft lockup.*|rcu_sched self-detected stall.*|rcu: INFO: rcu_sched detected stalls.*' | head -n 1)
      if [[ -n $stuck ]]; then
        hung="the L1 kernel reported: $stuck"
        kill "$qemu" 2>/dev/null; sleep 2; kill -9 "$qemu" 2>/dev/null
        break
      fi
      last_size=$size; last_change=$SECONDS
    elif (( SECONDS - last_change > silence_s )); then
      hung="no serial output for ${silence_s} s"
      kill "$qemu" 2>/dev/null; sleep 2; kill -9 "$qemu" 2>/dev/null
      break
    fi
    sleep 1
  done
  wait "$qemu"; local rc=$?
  tail -c +$((last_size < 0 ? 1 : last_size + 1)) "$serial" | tr -d '\r' | grep -aE 'KVMTEST (PASS|FAIL|SKIP)|KVMHARNESS|^KVMCMD' | sed -e 's/^KVMCMD //' -e 's/^/    /'
  boot_error=""
  if ! grep -aq "$done_marker" "$serial"; then
    if [[ -n $hung ]]; then boot_error="L1 hung: $hung"
    elif [[ $rc -eq 124 || $rc -eq 137 ]]; then boot_error="L1 did not finish within ${timeout_s} s"
    elif grep -aq 'KVMHARNESS ERROR' "$serial"; then boot_error=$(grep -a 'KVMHARNESS ERROR' "$serial" | head -n 1 | tr -d '\r' | sed 's/.*KVMHARNESS ERROR //')
    else boot_error="L1 died (qemu exit code $rc) before the tests finished"
    fi
    log "attempt $1 failed: $boot_error; last lines of its console:"
    tr -d '\r' <"$serial" | tail -n 25 | sed 's/^/    | /'
  fi
  final_log=$serial
}

boot 1
if [[ -n $boot_error ]] && ! grep -aq 'KVMHARNESS ERROR' "$final_log"; then
  log "retrying once with a fresh L1 (the first one crashed or hung)"
  boot 2
fi
[[ -n $command ]] && command_finish "$final_log" "$boot_error"
# A --vfio run is there for the real-group tests; without a bound group they would only be skipped.
if [[ $vfio -eq 1 && -z $boot_error ]] && ! grep -aq 'KVMHARNESS vfio: .* bound to vfio-pci' "$final_log"; then
  boot_error="--vfio: the L1 bound no device to vfio-pci ($(grep -a 'KVMHARNESS vfio:' "$final_log" | head -n 1 | tr -d '\r' | sed 's/.*KVMHARNESS //'))"
  log "$boot_error"
fi
finish "$final_log" "$boot_error"
