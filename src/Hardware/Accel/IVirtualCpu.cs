using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Accel;

/// <summary>
/// One virtual CPU: its register state and its run loop. <see cref="Run"/> is called by one thread (the
/// vCPU thread); <see cref="Kick"/> may be called from any thread. Register access is only valid while
/// the vCPU is not running.
/// </summary>
public interface IVirtualCpu : IDisposable
{
    /// <summary>The vCPU index within its VM.</summary>
    int Id { get; }

    /// <summary>The exits this vCPU dispatched to its handler, if it counts them itself (null: it does not).</summary>
    VcpuExitCounts? ExitCounts => null;

    /// <summary>
    /// Runs guest code until an exit the handler does not absorb. Port I/O and MMIO exits are passed to
    /// <paramref name="handler"/> on the calling thread (inline, like Firecracker's run_emulation); the
    /// vCPU keeps running if it returns <see cref="ExitAction.Continue"/>. Returns on HLT, shutdown,
    /// internal error, failed entry, a kick (<see cref="VcpuExit.Interrupted"/>), or an exit the handler stopped on.
    /// </summary>
    VcpuExit Run(IExitHandler handler);

    /// <summary>
    /// Makes the current or next <see cref="Run"/> return <see cref="VcpuExit.Interrupted"/> promptly
    /// (KVM: immediate_exit + a signal; software: uc_emu_stop). Thread-safe; sticky until Run returns.
    /// </summary>
    void Kick();

    /// <summary>
    /// Queues external interrupt <paramref name="vector"/> for delivery through the guest's IVT or IDT at the next
    /// instruction boundary where RFLAGS.IF is set and no STI/MOV SS interrupt shadow is active; several queue
    /// oldest first. The caller is the interrupt controller (a local APIC model): it decides what to raise and
    /// when, this only delivers. Thread-safe; a running vCPU takes it without Run returning, a vCPU outside Run
    /// (e.g. after a HLT exit) takes it on the next Run. KVM: KVM_INTERRUPT, with an interrupt-window exit while
    /// IF=0 (only without an in-kernel irqchip); software: delivered by the runtime.
    /// </summary>
    void QueueExternalInterrupt(byte vector);

    /// <summary>Reads the general-purpose registers, RIP and RFLAGS (KVM_GET_REGS).</summary>
    Registers GetRegisters();

    /// <summary>Writes the general-purpose registers, RIP and RFLAGS (KVM_SET_REGS).</summary>
    void SetRegisters(in Registers registers);

    /// <summary>Reads segment, descriptor-table and control registers (KVM_GET_SREGS).</summary>
    SpecialRegisters GetSpecialRegisters();

    /// <summary>Writes segment, descriptor-table and control registers (KVM_SET_SREGS).</summary>
    void SetSpecialRegisters(SpecialRegisters sregs);

    /// <summary>
    /// The vCPU's whole architectural state as an opaque, versioned blob for a snapshot: registers, segments,
    /// descriptor tables, control registers, EFER, FPU/SSE, the MSRs and the local APIC (what the accelerator
    /// keeps per vCPU). Only valid while the vCPU is not running (paused, or before its first Run).
    /// </summary>
    /// <exception cref="NotSupportedException">this accelerator cannot save vCPU state (yet).</exception>
    /// <exception cref="InvalidOperationException">the vCPU is running, or holds state that cannot be saved now.</exception>
    byte[] SaveState();

    /// <summary>
    /// Loads a blob <see cref="SaveState"/> produced on a vCPU of the same accelerator kind. Only valid while the
    /// vCPU is not running (a restored VM calls it before its first Run).
    /// </summary>
    /// <exception cref="FormatException">the blob is not a state of this accelerator or version; the message says why.</exception>
    void RestoreState(ReadOnlySpan<byte> state);
}
