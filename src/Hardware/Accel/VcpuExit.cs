namespace Actorvisor.Hardware.Accel;

/// <summary>Why <see cref="IVirtualCpu.Run"/> returned; the union of KVM's exit reasons that Actorvisor handles.</summary>
public abstract record VcpuExit
{
    private VcpuExit() { }

    /// <summary>Port I/O the exit handler stopped on (KVM_EXIT_IO). <c>Data</c> is the little-endian value.</summary>
    public sealed record PortIo(ushort Port, int Size, IoDirection Direction, uint Data) : VcpuExit;

    /// <summary>MMIO the exit handler stopped on (KVM_EXIT_MMIO).</summary>
    public sealed record Mmio(ulong Gpa, int Size, bool IsWrite, ulong Data) : VcpuExit;

    /// <summary>The guest executed HLT (KVM_EXIT_HLT).</summary>
    public sealed record Hlt : VcpuExit;

    /// <summary>The guest shut down, e.g. a triple fault (KVM_EXIT_SHUTDOWN).</summary>
    public sealed record Shutdown(string Reason) : VcpuExit;

    /// <summary>The accelerator could not continue the guest (KVM_EXIT_INTERNAL_ERROR, emulator error).</summary>
    public sealed record InternalError(string Reason) : VcpuExit;

    /// <summary>Guest entry failed (KVM_EXIT_FAIL_ENTRY): invalid vCPU state.</summary>
    public sealed record FailEntry(ulong HardwareReason, string Reason) : VcpuExit;

    /// <summary>The guest asked the platform to reset the machine (KVM_EXIT_SYSTEM_EVENT with KVM_SYSTEM_EVENT_RESET).</summary>
    public sealed record SystemReset(string Reason) : VcpuExit;

    /// <summary>Run returned because of <see cref="IVirtualCpu.Kick"/> (KVM_RUN -EINTR / immediate_exit).</summary>
    public sealed record Interrupted : VcpuExit;

    /// <summary>Shared instance for HLT.</summary>
    public static readonly Hlt Halted = new();

    /// <summary>Shared instance for a kick.</summary>
    public static readonly Interrupted Kicked = new();

    /// <summary>True for exits after which the guest cannot continue (shutdown, internal error, failed entry).</summary>
    public bool IsFatal => this is Shutdown or InternalError or FailEntry;
}
