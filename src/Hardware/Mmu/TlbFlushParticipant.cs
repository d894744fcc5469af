namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// One vCPU's side of the TLB flush protocol (KVM's vcpu->mode plus KVM_REQ_TLB_FLUSH). Used by the vCPU's
/// own thread only, except <see cref="IsInGuest"/> and <see cref="AppliedGeneration"/>, which requesters read.
/// <para>
/// Protocol: entering guest mode publishes InGuest with a full fence and then reads the flush generation;
/// a requester bumps the generation with a full fence and then reads each vCPU's mode (the Dekker pattern
/// of KVM's kvm_vcpu_exiting_guest_mode). So either the requester sees InGuest — kicks the vCPU and waits
/// until it leaves guest mode — or the vCPU sees the new generation and flushes before it runs guest code.
/// A vCPU outside guest mode (stopped, handling an exit or a fault, blocked on mmu_lock) therefore counts
/// as acknowledged at once: it runs no guest code until its next <see cref="EnterGuest"/>, which flushes
/// first. That is also why a flush under the mmu_lock write side cannot deadlock with a faulting vCPU.
/// </para>
/// </summary>
public sealed class TlbFlushParticipant : IDisposable
{
    private const int Outside = 0;
    private const int InGuest = 1;

    [ThreadStatic] private static TlbFlushParticipant? t_inGuest;

    private readonly TlbFlushCoordinator _coordinator;
    private int _mode;
    private long _applied;
    private int _disposed;

    internal TlbFlushParticipant(TlbFlushCoordinator coordinator, ITlbFlushTarget target, long generation)
    {
        _coordinator = coordinator;
        Target = target;
        _applied = generation;
    }

    /// <summary>True if the calling thread is a vCPU in guest mode (it must not take mmu_lock).</summary>
    public static bool IsCurrentThreadInGuest => t_inGuest is not null;

    /// <summary>The participant of the vCPU in guest mode on the calling thread, or null.</summary>
    public static TlbFlushParticipant? CurrentInGuest => t_inGuest;

    /// <summary>The vCPU.</summary>
    public ITlbFlushTarget Target { get; }

    /// <summary>True while the vCPU runs guest code.</summary>
    public bool IsInGuest => Volatile.Read(ref _mode) == InGuest;

    /// <summary>The last flush generation this vCPU applied.</summary>
    public long AppliedGeneration => Volatile.Read(ref _applied);

    /// <summary>True if a flush was requested that this vCPU has not applied yet.</summary>
    public bool IsFlushPending => _coordinator.Generation != Volatile.Read(ref _applied);

    /// <summary>True once unregistered.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// vCPU thread, before running guest code: enters guest mode, first applying (<see cref="ITlbFlushTarget.FlushTlb"/>)
    /// any flush requested since the last one applied.
    /// </summary>
    public void EnterGuest()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        while (true)
        {
            Interlocked.Exchange(ref _mode, InGuest);          // full fence before reading the generation
            long generation = _coordinator.Generation;
            if (generation == Volatile.Read(ref _applied)) break;
            Volatile.Write(ref _mode, Outside);
            Target.FlushTlb();
            Volatile.Write(ref _applied, generation);
            _coordinator.SignalAcknowledged();
        }
        t_inGuest = this;
    }

    /// <summary>
    /// vCPU thread, after guest code stopped (an exit, a fault to resolve, a kick): leaves guest mode. A
    /// waiting requester counts this as the acknowledgement; the flush itself is applied at the next entry.
    /// </summary>
    public void ExitGuest()
    {
        t_inGuest = null;
        Interlocked.Exchange(ref _mode, Outside);
        _coordinator.SignalAcknowledged();
    }

    /// <summary>
    /// vCPU thread, in guest mode at an instruction boundary (e.g. inside an emulator hook): applies a
    /// pending flush without leaving guest mode. True if there was one.
    /// </summary>
    public bool ApplyPendingFlush()
    {
        long generation = _coordinator.Generation;
        if (generation == Volatile.Read(ref _applied)) return false;
        Target.FlushTlb();
        Volatile.Write(ref _applied, generation);
        _coordinator.SignalAcknowledged();
        return true;
    }

    internal bool NeedsAcknowledgement(long generation) =>
        Volatile.Read(ref _disposed) == 0 && Volatile.Read(ref _mode) == InGuest && Volatile.Read(ref _applied) < generation;

    /// <summary>Unregisters the vCPU; a pending or later flush no longer waits for it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (ReferenceEquals(t_inGuest, this)) t_inGuest = null;
        Volatile.Write(ref _mode, Outside);
        _coordinator.Unregister(this);
    }

    /// <inheritdoc />
    public override string ToString() => $"vcpu {Target.VcpuId} ({(IsInGuest ? "in guest" : "outside guest")}, flush {AppliedGeneration})";
}
