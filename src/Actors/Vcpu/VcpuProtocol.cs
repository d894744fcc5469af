using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Actors.Vcpu;

// Messages handled by VcpuActor (vcpu->mutex). Each request is applied by the vCPU thread outside the
// guest (the actor kicks it out) and answered by that thread once applied, to the request's sender.

/// <summary>
/// A request the vCPU thread applies between guest entries (the run loop's queue holds only these). The set is
/// closed: the records in this file are all of them, and the run loop handles each.
/// </summary>
public interface IVcpuRequest;

/// <summary>Parks the vCPU thread outside the guest. Replies <see cref="VcpuPaused"/>.</summary>
public sealed record PauseVcpu : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly PauseVcpu Instance = new();
}

/// <summary>Lets the vCPU thread run the guest (again). Replies <see cref="VcpuResumed"/> or <see cref="VcpuRequestFailed"/>.</summary>
public sealed record ResumeVcpu : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly ResumeVcpu Instance = new();
}

/// <summary>Reads the vCPU's registers (KVM_GET_REGS + KVM_GET_SREGS). Replies <see cref="VcpuRegisters"/>.</summary>
public sealed record GetVcpuRegisters : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly GetVcpuRegisters Instance = new();
}

/// <summary>Writes the general registers, and the special registers when given. Replies <see cref="VcpuRegistersSet"/>.</summary>
public sealed record SetVcpuRegisters(Registers Registers, SpecialRegisters? Special = null) : IVcpuRequest;

/// <summary>Saves the vCPU's whole state for a snapshot (IVirtualCpu.SaveState, on the vCPU thread). Replies <see cref="VcpuStateSaved"/>.</summary>
public sealed record SaveVcpuState : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly SaveVcpuState Instance = new();
}

/// <summary>
/// Asks the vCPU to drop cached translations before it next enters the guest (KVM_REQ_TLB_FLUSH). Replies
/// <see cref="VcpuTlbFlushed"/> once the thread is outside the guest and has flushed.
/// </summary>
public sealed record FlushVcpuTlb : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly FlushVcpuTlb Instance = new();
}

/// <summary>Ends the vCPU thread. Replies <see cref="VcpuStopped"/> after the thread has left its run loop for good.</summary>
public sealed record StopVcpu : IVcpuRequest
{
    /// <summary>The one instance.</summary>
    public static readonly StopVcpu Instance = new();
}

/// <summary>vCPU <paramref name="VcpuId"/> is parked outside the guest.</summary>
public sealed record VcpuPaused(int VcpuId);

/// <summary>vCPU <paramref name="VcpuId"/> runs the guest.</summary>
public sealed record VcpuResumed(int VcpuId);

/// <summary>The registers of vCPU <paramref name="VcpuId"/>, read outside the guest.</summary>
public sealed record VcpuRegisters(int VcpuId, Registers Registers, SpecialRegisters Special);

/// <summary>The registers of vCPU <paramref name="VcpuId"/> were written.</summary>
public sealed record VcpuRegistersSet(int VcpuId);

/// <summary>The reply to <see cref="SaveVcpuState"/>: the accelerator's opaque state blob.</summary>
public sealed record VcpuStateSaved(int VcpuId, byte[] State);

/// <summary>vCPU <paramref name="VcpuId"/> has flushed its TLB and will not use a stale translation.</summary>
public sealed record VcpuTlbFlushed(int VcpuId);

/// <summary>The thread of vCPU <paramref name="VcpuId"/> has left its run loop for good.</summary>
public sealed record VcpuStopped(int VcpuId);

/// <summary>A request to vCPU <paramref name="VcpuId"/> was refused or failed.</summary>
public sealed record VcpuRequestFailed(int VcpuId, VcpuError Error);

// Events the VcpuActor reports to its parent (the VmActor).

/// <summary>vCPU <paramref name="VcpuId"/> executed HLT and is parked until resumed.</summary>
public sealed record VcpuHalted(int VcpuId);

/// <summary>
/// The guest on vCPU <paramref name="VcpuId"/> cannot continue: a fatal exit (shutdown, internal error,
/// failed entry) or an exit the device bus stopped on (e.g. the debug-exit port).
/// </summary>
public sealed record VcpuGuestEnded(int VcpuId, VcpuExit Exit);
