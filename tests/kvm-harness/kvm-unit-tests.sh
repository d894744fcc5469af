#!/bin/sh
# kvm-unit-tests (x86) under Actorvisor-KVM and under QEMU-KVM in the same harness L1, test by test. Run it on the host as
#   KVM_HARNESS_SILENCE=900 KVM_HARNESS_TIMEOUT=3600 flock /tmp/actorvisor-harness.lock \
#     tests/kvm-harness/run.sh --command "tests/kvm-harness/kvm-unit-tests.sh DIR [NAME...]"
# after `dotnet build src/Host -c Release`. DIR holds the built `.flat` kernels (kvm-unit-tests is built OUTSIDE this
# repository: ./configure --arch=x86_64 && make; copy x86/*.flat under the ignored artifacts/, e.g. artifacts/kut,
# since the L1 sees only the repository). NAMEs pick tests of the list below (default: all of it).
#
# Actorvisor: `actorvisor run --image T.flat --format multiboot --platform pc --test-device --vcpus SMP --memory 128M
# --cmdline "T.flat ARGS"` (the kernel's name first, as QEMU's and GRUB's multiboot loaders write the command line:
# kvm-unit-tests takes its first word as argv[0]; with ARGS alone vmexit ran every test instead of the one asked); its exit code is the byte the test wrote to port 0xf4 (0 pass, 77 skip). QEMU, as kvm-unit-tests'
# own x86/run starts it: `-nodefaults -global kvm-pit.lost_tick_policy=discard -device pc-testdev -device
# isa-debug-exit,iobase=0xf4,iosize=0x4 -serial stdio -device pci-testdev -machine accel=kvm -kernel T.flat -smp SMP`
# with the test's qemu_params from its unittests.cfg and the default 128 MiB (no environment -initrd: fw_cfg gives
# NR_CPUS and the memory size); its exit code is (code << 1) | 1. QEMU runs a second time with -cpu host instead of
# the test's -cpu (the CPU model Actorvisor gives: KVM_GET_SUPPORTED_CPUID), which tells a VMM difference from a
# CPU-model one. Each side is bounded by KUT_TIMEOUT seconds
# (default 150: the Actorvisor side includes starting .NET and the actor runtime in the TCG L1, 25-40 s of it).
# Prints `KUT NAME actorvisor=RESULT qemu=RESULT ...` per test, RESULT one of PASS FAIL SKIP TIMEOUT, with the
# FAIL/SKIP lines of each side under it; logs go to /tmp/kut in the L1.
set -u
dir=${1:?usage: kvm-unit-tests.sh DIR [NAME...]}
shift
av="${DOTNET:-dotnet} src/Host/bin/Release/net10.0/actorvisor.dll"
out=/tmp/kut
mkdir -p "$out"

# NAME FILE SMP ARGS QEMU_PARAMS [SECONDS] ("-" for none; ARGS and QEMU_PARAMS with ',' for spaces where a value has
# none; SECONDS overrides KUT_TIMEOUT for a slow test: sieve took 134 s under QEMU in the L1).
list='
msr msr.flat 1 - -cpu,max,vendor=GenuineIntel
tsc tsc.flat 1 - -cpu,max
tsc_adjust tsc_adjust.flat 1 - -cpu,max
smptest smptest.flat 2 - -
smptest3 smptest.flat 3 - -
hypercall hypercall.flat 1 - -
realmode realmode.flat 1 - -
ioapic ioapic.flat 4 - -cpu,qemu64,+x2apic
sieve sieve.flat 1 - - 420
setjmp setjmp.flat 1 - -
rmap_chain rmap_chain.flat 1 - -
xsave xsave.flat 1 - -cpu,max
eventinj eventinj.flat 1 - -
idt_test idt_test.flat 1 - -
debug debug.flat 1 - -
umip umip.flat 1 - -cpu,qemu64,+umip
pcid-enabled pcid.flat 1 - -cpu,qemu64,+pcid,+invpcid
vmexit_cpuid vmexit.flat 1 cpuid -
vmexit_vmcall vmexit.flat 1 vmcall -
vmexit_mov_to_cr8 vmexit.flat 1 mov_to_cr8 -
vmexit_inl_pmtimer vmexit.flat 1 inl_from_pmtimer -
vmexit_ipi vmexit.flat 2 ipi -machine,pit=off
vmexit_tscdeadline vmexit.flat 1 tscdeadline -cpu,qemu64,+x2apic,+tsc-deadline
kvmclock_test kvmclock_test.flat 2 10000000 -
pmu pmu.flat 1 - -cpu,max
xapic apic.flat 2 - -cpu,qemu64,-x2apic,+tsc-deadline
'

# result SIDE EXIT: PASS/FAIL/SKIP/TIMEOUT from a side's exit code.
result() {
  case "$1:$2" in
    *:124) echo TIMEOUT ;;
    actorvisor:0 | qemu:1) echo PASS ;;
    actorvisor:77 | qemu:155) echo SKIP ;;
    *) echo FAIL ;;
  esac
}

mountpoint -q /sys/kernel/debug 2>/dev/null || true
echo "$list" | while read -r name file smp args qparams seconds; do
  [ -z "$name" ] && continue
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  [ -f "$dir/$file" ] || { echo "KUT $name: $dir/$file missing"; continue; }
  [ "$args" = "-" ] && args=""
  timeout_s=${seconds:-${KUT_TIMEOUT:-150}}
  [ "$qparams" = "-" ] && qparams=""
  qparams=$(echo "$qparams" | tr ',' ' ')
  # kvmclock_test wants the host's time as its second argument.
  [ "$name" = kvmclock_test ] && args="$args $(date +%s)"

  t0=$(date +%s)
  # shellcheck disable=SC2086
  timeout "$timeout_s" $av run --image "$dir/$file" --format multiboot --platform pc --test-device --vcpus "$smp" --memory 128M \
    --cmdline "$dir/$file${args:+ $args}" --timeout "$timeout_s" >"$out/$name.actorvisor.log" 2>&1 </dev/null
  arc=$?
  t1=$(date +%s)
  # shellcheck disable=SC2086
  timeout "$timeout_s" qemu-system-x86_64 --no-reboot -nodefaults -global kvm-pit.lost_tick_policy=discard -device pc-testdev \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 -display none -serial stdio -device pci-testdev -machine accel=kvm \
    -kernel "$dir/$file" -smp "$smp" $qparams ${args:+-append "$args"} >"$out/$name.qemu.log" 2>&1 </dev/null
  qrc=$?
  t2=$(date +%s)
  # The same with -cpu host: the CPU model Actorvisor gives (KVM_GET_SUPPORTED_CPUID), to tell the VMM from the model.
  hparams=$(echo "$qparams" | sed -E 's/-cpu [^ ]+//')
  # shellcheck disable=SC2086
  timeout "$timeout_s" qemu-system-x86_64 --no-reboot -nodefaults -global kvm-pit.lost_tick_policy=discard -device pc-testdev \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 -display none -serial stdio -device pci-testdev -machine accel=kvm \
    -kernel "$dir/$file" -smp "$smp" $hparams -cpu host ${args:+-append "$args"} >"$out/$name.qemu-host.log" 2>&1 </dev/null
  hrc=$?
  asum=$(grep -a -o -m1 'SUMMARY:.*' "$out/$name.actorvisor.log" | tr -d '\r')
  qsum=$(grep -a -o -m1 'SUMMARY:.*' "$out/$name.qemu.log" | tr -d '\r')
  echo "KUT $name actorvisor=$(result actorvisor $arc) qemu=$(result qemu $qrc) qemu-cpu-host=$(result qemu $hrc) (actorvisor exit $arc, $((t1 - t0)) s, ${asum:-no summary}; qemu exit $qrc, $((t2 - t1)) s, ${qsum:-no summary}; qemu -cpu host exit $hrc)"
  grep -a -o -E '(FAIL|SKIP): .*' "$out/$name.actorvisor.log" | head -n 6 | sed "s/^/KUT   $name actorvisor: /"
  grep -a -o -E '(FAIL|SKIP): .*' "$out/$name.qemu.log" | head -n 6 | sed "s/^/KUT   $name qemu: /"
  grep -a -o -E 'FAIL: .*' "$out/$name.qemu-host.log" | head -n 3 | sed "s/^/KUT   $name qemu -cpu host: /"
  if [ "$(result actorvisor $arc)" != PASS ] && [ "$(result actorvisor $arc)" != SKIP ]; then
    tail -n 4 "$out/$name.actorvisor.log" | tr -d '\r' | sed "s/^/KUT   $name actorvisor tail: /"
  fi
  if [ "$(result qemu $qrc)" != PASS ] && [ "$(result qemu $qrc)" != SKIP ]; then
    tail -n 4 "$out/$name.qemu.log" | tr -d '\r' | sed "s/^/KUT   $name qemu tail: /"
  fi
done
echo "KUT done"
