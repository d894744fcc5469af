using Actorvisor.Hardware.Machines;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// The hardware of one VM, as <see cref="VmActorSpec.Build"/> returns it: the accelerator VM and its vCPUs
/// (registers set up to boot), the exit handler that routes port I/O and MMIO to devices (the device bus),
/// the devices and the guest memory. The VmActor owns all of it from then on and releases each part in its
/// teardown step.
/// </summary>
public sealed class VmParts
{
    /// <summary>The accelerator VM, its memslots already set for guest RAM. Disposed in <see cref="TeardownStep.CloseFds"/>.</summary>
    public required IVirtualMachine Vm { get; init; }

    /// <summary>Handles the exits on every vCPU thread (the device bus).</summary>
    public required IExitHandler ExitHandler { get; init; }

    /// <summary>The vCPUs to run, one thread each; by default every vCPU of <see cref="Vm"/>.</summary>
    public IReadOnlyList<IVirtualCpu>? Vcpus { get; init; }

    /// <summary>The devices, each supervised by a DeviceActor and released in <see cref="TeardownStep.ReleaseDevices"/>.</summary>
    public IReadOnlyList<VmDevice> Devices { get; init; } = [];

    /// <summary>Guest RAM (HostMemory mappings), unmapped in <see cref="TeardownStep.UnmapGuestMemory"/>.</summary>
    public IReadOnlyList<IDisposable> GuestMemory { get; init; } = [];

    /// <summary>
    /// The async page-fault machinery of the VM's lazy memory (the sink its faults go to), or null if it has none.
    /// The VmActor starts its actors, routes lazy-memory requests to them and flushes them in
    /// <see cref="TeardownStep.FlushOutstandingWork"/>; the lazy memory itself belongs in <see cref="GuestMemory"/>.
    /// </summary>
    public AsyncPfRouter? AsyncPf { get; init; }

    /// <summary>
    /// The group every vCPU thread joins before its first guest entry (a cgroup with the VM's CPU limit), or null;
    /// disposed in <see cref="TeardownStep.CloseFds"/> once the threads have ended.
    /// </summary>
    public Actorvisor.Hardware.Cgroups.IThreadGroup? VcpuThreads { get; init; }

    /// <summary>
    /// What a snapshot of this VM holds, given every vCPU's saved state by index (gathered on the vCPU threads);
    /// null if the VM's hardware cannot be snapshotted.
    /// </summary>
    public Func<IReadOnlyList<byte[]>, SnapshotContent>? SnapshotContent { get; init; }

    /// <summary>
    /// The hardware layer's machine these parts come from (what a live migration reads and pauses), or null for parts
    /// assembled otherwise, which cannot be migrated.
    /// </summary>
    public MachineParts? Machine { get; init; }

    /// <summary>Anything else holding a descriptor, closed after the VM in <see cref="TeardownStep.CloseFds"/>.</summary>
    public IReadOnlyList<IDisposable> OtherResources { get; init; } = [];

    /// <summary>
    /// Decides what a vCPU exit that ended the guest means: returns <see cref="VmOutcome.Exited"/> for the
    /// debug-exit port, or null to treat the exit as a failure.
    /// </summary>
    public Func<VcpuExit, VmOutcome?>? InterpretExit { get; init; }

    /// <summary>
    /// Drops cached translations of a vCPU (called on its thread, outside the guest). By default a vCPU that
    /// is an <see cref="ITlbFlushTarget"/> (the software accelerator's) flushes itself; KVM needs nothing here,
    /// since leaving the guest is where the kernel services KVM_REQ_TLB_FLUSH.
    /// </summary>
    public Action<IVirtualCpu>? FlushTlb { get; init; }

    /// <summary>What the exit that ended the guest on a vCPU means: <see cref="InterpretExit"/>'s outcome, else a failure naming the exit.</summary>
    internal VmOutcome OutcomeOf(VcpuGuestEnded ended)
    {
        if (InterpretExit?.Invoke(ended.Exit) is { } outcome) return outcome;
        return new VmOutcome.Failed(ended.Exit switch
        {
            VcpuExit.Shutdown s => $"vcpu {ended.VcpuId}: guest shutdown ({s.Reason})",
            VcpuExit.InternalError e => $"vcpu {ended.VcpuId}: internal error ({e.Reason})",
            VcpuExit.FailEntry f => $"vcpu {ended.VcpuId}: entry failed (hardware reason 0x{f.HardwareReason:x}: {f.Reason})",
            VcpuExit.PortIo p => $"vcpu {ended.VcpuId}: unhandled port I/O {p.Direction} port 0x{p.Port:x} size {p.Size}",
            VcpuExit.Mmio m => $"vcpu {ended.VcpuId}: unhandled MMIO {(m.IsWrite ? "write" : "read")} at 0x{m.Gpa:x} size {m.Size}",
            var other => $"vcpu {ended.VcpuId}: unexpected exit {other}",
        });
    }

    /// <summary>The TLB flush applied by the vCPU threads.</summary>
    internal Action<IVirtualCpu> EffectiveFlushTlb => FlushTlb ?? (cpu => (cpu as ITlbFlushTarget)?.FlushTlb());

    /// <summary>The vCPUs to run.</summary>
    internal IReadOnlyList<IVirtualCpu> RunnableVcpus => Vcpus ?? Vm.Vcpus;
}
