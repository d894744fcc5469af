namespace Actorvisor.Actors.Memslots;

/// <summary>
/// The grace-period counter of one memslot reader (one vCPU thread): the SRCU analogue of kvm->srcu's
/// per-reader state. Odd while the thread is active (it may hold a memslot snapshot: it is in the guest or
/// handling an exit); even while it is idle (parked, or its thread has ended). Every pass through the run
/// loop's top, where the thread holds no snapshot, adds 2: a quiescent point.
/// Only the owning thread writes it; writers of memslots read it.
/// </summary>
public sealed class QuiescentState
{
    private readonly GracePeriod _gracePeriod;
    private readonly Action _kick;
    private long _counter = 1;
    private long _notifiedRequest;

    internal QuiescentState(GracePeriod gracePeriod, Action kick)
    {
        _gracePeriod = gracePeriod;
        _kick = kick;
    }

    /// <summary>The counter now (odd: active, even: idle).</summary>
    public long Value => Volatile.Read(ref _counter);

    /// <summary>
    /// The thread holds no memslot snapshot here (top of the run loop). Interlocked, so that the bump is
    /// visible before the thread loads the next snapshot (a store-load fence; see GracePeriod).
    /// </summary>
    public void PassQuiescentPoint()
    {
        Interlocked.Add(ref _counter, 2);
        NotifyIfAwaited();
    }

    /// <summary>The thread parks (paused, halted): an extended quiescent state, like an idle CPU for RCU.</summary>
    public void EnterIdle()
    {
        if ((Interlocked.Increment(ref _counter) & 1) != 0) throw new InvalidOperationException("EnterIdle while already idle");
        NotifyIfAwaited();
    }

    /// <summary>The thread leaves the parked state and may read memslots again.</summary>
    public void ExitIdle()
    {
        if ((Interlocked.Increment(ref _counter) & 1) == 0) throw new InvalidOperationException("ExitIdle while not idle");
    }

    /// <summary>The thread has ended: idle for good.</summary>
    public void Retire()
    {
        if ((Volatile.Read(ref _counter) & 1) != 0) Interlocked.Increment(ref _counter);
        NotifyIfAwaited();
    }

    /// <summary>True if this reader has passed a quiescent point since <paramref name="snapshot"/> was taken, or is idle.</summary>
    public bool HasPassedSince(long snapshot)
    {
        long now = Value;
        return (now & 1) == 0 || now != snapshot;
    }

    /// <summary>Forces the reader out of the guest so that it reaches a quiescent point soon (the expedited grace period).</summary>
    internal void Kick() => _kick();

    // Tell the waiting writer at most once per grace-period request, so a vCPU with many exits does not
    // flood the writer's mailbox.
    private void NotifyIfAwaited()
    {
        long request = _gracePeriod.RequestSequence;
        if (request != 0 && request != Volatile.Read(ref _notifiedRequest))
        {
            Volatile.Write(ref _notifiedRequest, request);
            _gracePeriod.ReaderQuiesced();
        }
    }
}
