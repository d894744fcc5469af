namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// What the TLB flush protocol needs from a vCPU (implemented by the software accelerator's vCPU, and by
/// <see cref="SoftTlb"/>). The vCPU registers with <see cref="TlbFlushCoordinator.Register"/> and brackets
/// guest execution with <see cref="TlbFlushParticipant.EnterGuest"/> / <see cref="TlbFlushParticipant.ExitGuest"/>.
/// </summary>
public interface ITlbFlushTarget
{
    /// <summary>The vCPU index, for diagnostics.</summary>
    int VcpuId { get; }

    /// <summary>
    /// Any thread: make the vCPU leave guest mode promptly (software: stop the emulator at the next
    /// instruction boundary; KVM: immediate_exit + a signal). Must not block and must not take mmu_lock.
    /// </summary>
    void Kick();

    /// <summary>
    /// The vCPU thread, outside guest mode: drop every cached translation so that the next access sees the
    /// current SPTEs (software: re-apply page permissions to the emulator's memory map). Must not take
    /// mmu_lock: it runs while a flush requester may hold the write side.
    /// </summary>
    void FlushTlb();
}
