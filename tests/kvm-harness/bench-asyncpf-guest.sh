#!/bin/sh
# `actorvisor bench asyncpf-guest --accelerator kvm` inside the KVM harness's L1 (run it on the host as
#   KVM_HARNESS_SILENCE=900 KVM_HARNESS_TIMEOUT=3600 \
#     flock /tmp/actorvisor-harness.lock tests/kvm-harness/run.sh --command "tests/kvm-harness/bench-asyncpf-guest.sh [ARGS]"
# after `dotnet build src/Host -c Release`): the async-PF scheduler guest on the PC platform, the L1 kernel's async_pf.c
# doing the protocol over Actorvisor's userfaultfd lazy memory. ARGS go to the bench in place of the defaults below
# (--pages 256 --rounds 5): 256 pages rather than the 2,048, since each fault costs several ms nested under TCG and the
# bench makes 3 runs per round plus 3 warm-up runs. ACTORVISOR_DLL runs another build of the executable (a copy under the repository, the only host directory the L1 sees besides /usr and /etc, so that
# rebuilding src/Host meanwhile does not change it under a long run). Prints the L1's CPUs and load around the run (the L1's vCPUs are
# QEMU threads on the shared host). Runs from the repository root; DOTNET is the dotnet executable (set by the harness).
set -eu
[ $# -gt 0 ] || set -- --pages 256 --rounds 5
echo "bench-asyncpf-guest: L1 cpus $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg) before"
"${DOTNET:-dotnet}" "${ACTORVISOR_DLL:-src/Host/bin/Release/net10.0/actorvisor.dll}" bench asyncpf-guest --accelerator kvm "$@"
echo "bench-asyncpf-guest: L1 load $(cut -d' ' -f1-3 /proc/loadavg) after"
