namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// Remote TLB flushes for one VM (kvm_flush_remote_tlbs). Any SPTE change from writable to read-only, and
/// any zap, must be followed by <see cref="FlushAll"/> before the caller relies on it (locking.rst "flush
/// tlbs due to spte updated"): it returns only when every registered vCPU either left guest mode or
/// applied the flush, so none can still use a stale translation. See <see cref="TlbFlushParticipant"/> for
/// the protocol, including vCPUs that are not running (they count as acknowledged and flush at next entry).
/// </summary>
public sealed class TlbFlushCoordinator
{
    private readonly object _registryLock = new();
    private readonly object _ackLock = new();
    private readonly MmuHooks? _hooks;
    private TlbFlushParticipant[] _participants = [];
    private long _generation;
    private long _flushes;
    private int _waiters;

    /// <summary>A coordinator that gives up waiting after <paramref name="timeout"/>.</summary>
    public TlbFlushCoordinator(TimeSpan timeout) : this(timeout, null) { }

    internal TlbFlushCoordinator(TimeSpan timeout, MmuHooks? hooks)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the TLB flush timeout must be positive");
        Timeout = timeout;
        _hooks = hooks;
    }

    /// <summary>How long <see cref="FlushAll"/> waits for acknowledgements.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The number of the last flush requested (0: none yet).</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Number of flushes requested so far.</summary>
    public long FlushCount => Volatile.Read(ref _flushes);

    /// <summary>The registered vCPUs.</summary>
    public IReadOnlyList<TlbFlushParticipant> Participants => Volatile.Read(ref _participants);

    /// <summary>Registers a vCPU. It starts outside guest mode with nothing to flush.</summary>
    public TlbFlushParticipant Register(ITlbFlushTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        MmuLock.AssertNotHeld($"register vcpu {target.VcpuId} for TLB flushes (the registry lock)");
        lock (_registryLock)
        {
            var p = new TlbFlushParticipant(this, target, Generation);
            Volatile.Write(ref _participants, [.. _participants, p]);
            return p;
        }
    }

    internal void Unregister(TlbFlushParticipant participant)
    {
        MmuLock.AssertNotHeld($"unregister vcpu {participant.Target.VcpuId} from TLB flushes (the registry lock)");
        lock (_registryLock) Volatile.Write(ref _participants, _participants.Where(p => p != participant).ToArray());
        SignalAcknowledged();
    }

    /// <summary>
    /// Requests a TLB flush on every registered vCPU and waits until each has left guest mode or applied it.
    /// May be called with the mmu_lock write side held (vCPUs acknowledge without taking it), and from a vCPU
    /// thread that is outside guest mode.
    /// </summary>
    /// <exception cref="TlbFlushTimeoutException">some vCPU did not acknowledge within <see cref="Timeout"/>.</exception>
    /// <exception cref="MmuLockViolationException">called from a vCPU thread in guest mode (it would wait for itself).</exception>
    public void FlushAll()
    {
        if (TlbFlushParticipant.IsCurrentThreadInGuest)
            throw new MmuLockViolationException("a vCPU in guest mode cannot wait for a TLB flush (it would wait for itself); leave guest mode first");
        long generation = Interlocked.Increment(ref _generation);   // full fence before reading the modes
        Interlocked.Increment(ref _flushes);
        var participants = Volatile.Read(ref _participants);
        foreach (var p in participants)
            if (p.NeedsAcknowledgement(generation)) p.Target.Kick();
        _hooks?.At?.Invoke(MmuHookPoint.FlushRequested, ulong.MaxValue);

        bool AllAcknowledged() => participants.All(p => !p.NeedsAcknowledgement(generation));
        if (AllAcknowledged()) return;
        if (_hooks?.WaitUntil is { } wait)
        {
            wait(AllAcknowledged);
            return;
        }

        var deadline = Environment.TickCount64 + (long)Timeout.TotalMilliseconds;
        Interlocked.Increment(ref _waiters);
        try
        {
            lock (_ackLock)
            {
                while (!AllAcknowledged())
                {
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0)
                        throw new TlbFlushTimeoutException(participants.Where(p => p.NeedsAcknowledgement(generation)).Select(p => p.Target.VcpuId).ToArray(), Timeout);
                    Monitor.Wait(_ackLock, (int)Math.Min(left, 100));
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    internal void SignalAcknowledged()
    {
        // The caller just published its mode or applied generation; the fence orders that store before
        // the load of _waiters (a requester increments _waiters before it checks the acknowledgements).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _waiters) == 0) return;
        lock (_ackLock) Monitor.PulseAll(_ackLock);
    }
}
