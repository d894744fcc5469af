#!/usr/bin/env bash
# Set-up and the whole test suite in one command: installs what is missing, builds, runs every test
# project and the KVM tests (tests/kvm-harness), and prints one line "N passed, N failed, N skipped"
# from the TRX results. Exits non-zero on any failure.
#
#   tests/run.sh [--under-load] [dotnet test arguments...]
#
# --under-load: the same run with a CPU hog (stress-ng, one worker per online CPU) beside it from before the
# build to the end, to shake out tests that only pass on an idle machine. The hog is stopped on every way out.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
under_load=0; test_args=()
for arg in "$@"; do
  if [[ $arg == --under-load ]]; then under_load=1; else test_args+=("$arg"); fi
done
# chromium: the web view's browser test (tests/Actorvisor.Host.Tests/Web) drives it.
deps=(--browser); [[ $under_load -eq 1 ]] && deps+=(--under-load)
"$root/deploy/install-deps.sh" "${deps[@]}" || exit 1
results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"

# The hog runs in its own session (setsid), so that stopping it stops every worker; its own --timeout bounds
# it even if this script is killed without running its trap.
hog=""
stop_hog() { [[ -n $hog ]] && { kill -TERM -- "-$hog" 2>/dev/null; wait "$hog" 2>/dev/null; hog=""; }; }
if [[ $under_load -eq 1 ]]; then
  cpus=$(nproc)
  setsid stress-ng --cpu "$cpus" --cpu-method all --timeout "${ACTORVISOR_LOAD_LIMIT:-10800}s" --metrics-brief \
    </dev/null >"$results/stress-ng.log" 2>&1 &
  hog=$!
  trap stop_hog EXIT
  trap 'stop_hog; exit 130' INT
  trap 'stop_hog; exit 143' TERM
  echo "== under load: stress-ng --cpu $cpus (pid $hog, log $results/stress-ng.log) beside the build and every test"
fi
load_started=$SECONDS

dotnet build "$root/Actorvisor.sln" -c Release -nologo -v q -clp:ErrorsOnly || { stop_hog; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# The client library as a NuGet package (a CI artifact, published nowhere): artifacts/packages/Actorvisor.Client.<version>.nupkg.
# The package test (ClientPackageTests) builds a tiny client against it alone.
rm -rf "$root/artifacts/packages"
dotnet pack "$root/src/Host/Client/Actorvisor.Client.csproj" -c Release --no-build -nologo -v q -o "$root/artifacts/packages" \
  || { stop_hog; echo "== dotnet pack of the client library failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# Each test assembly runs on its own (vstest directly, no MSBuild nodes), one after the other, with the KVM harness
# kept out (it runs as its own step below: it boots QEMU; keep it away from timing-sensitive tests). A test that
# runs past the hang limit gets its test host killed and is reported by name; a whole assembly past its limit is
# killed too, so a hang can never stall CI. Either way the run fails.
hang=${ACTORVISOR_TEST_HANG:-8m}; limit=${ACTORVISOR_TEST_LIMIT:-900}
rc=0
for name in Actorvisor.Hardware.Tests Actorvisor.Actors.Tests Actorvisor.Host.Tests; do
  dll="$root/tests/$name/bin/Release/net10.0/$name.dll"
  echo "== $name"
  ACTORVISOR_KVM_HARNESS=skip timeout --kill-after=30 "$limit" dotnet test "$dll" --blame-hang-timeout "$hang" --blame-hang-dump-type none \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" --results-directory "$results" "${test_args[@]}" || rc=1
done
# Real KVM: directly where /dev/kvm is hardware-assisted, else inside a QEMU-emulated host with nested SVM
# (tests/kvm-harness/README.md). Two boots: every KVM test but the real-VFIO ones, then those on a QEMU host
# with an emulated IOMMU and a PCI device bound to vfio-pci (only QEMU's machine has one to give). Per-test
# results land in the TRX folder and are counted with the rest.
echo "== KVM harness"
"$root/tests/kvm-harness/run.sh" --exclude VfioRealGroupTests --trx "$results/kvm-harness.trx" || rc=1
echo "== KVM harness, real VFIO group"
"$root/tests/kvm-harness/run.sh" --mode qemu --vfio --no-build --filter VfioRealGroupTests --trx "$results/kvm-harness-vfio.trx" || rc=1

if [[ $under_load -eq 1 ]]; then
  # A hog that died early would make this an ordinary run reported as a loaded one.
  if kill -0 "$hog" 2>/dev/null; then
    echo "== under load: stress-ng ran beside the whole run ($((SECONDS - load_started)) s), stopping it"
  else
    echo "== under load: stress-ng exited before the end of the run: the run was not loaded throughout" >&2; rc=1
  fi
  stop_hog
fi
python3 - "$results" "$rc" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
failures = []
files = glob.glob(sys.argv[1] + "/*.trx")
# Counted from the per-test results: vstest leaves skipped tests out of its counters (notExecuted="0").
for f in files:
    root = ET.parse(f).getroot()
    outcomes = [r.get("outcome") for r in root.iterfind("t:Results/t:UnitTestResult", ns)]
    passed += outcomes.count("Passed")
    skipped += outcomes.count("NotExecuted")
    for r in root.iterfind("t:Results/t:UnitTestResult", ns):
        if r.get("outcome") in ("Failed", "Error", "Timeout", "Aborted"):
            message = r.find(".//t:Message", ns)
            first = (message.text or "").strip().splitlines()[0][:300] if message is not None and message.text else ""
            failures.append(f"FAILED {r.get('testName')}: {first}")
    c = root.find("t:ResultSummary/t:Counters", ns)
    failed += max(sum(outcomes.count(o) for o in ("Failed", "Error", "Timeout", "Aborted")),
                  sum(int(c.get(k)) for k in ("failed", "error", "timeout", "aborted")))
if not files or (int(sys.argv[2]) != 0 and failed == 0):
    failed += 1  # the run itself failed (crash, build break) without a failing test to show for it
# The failing tests by name just above the count, so that a log's tail says what failed.
for line in failures:
    print(line)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
