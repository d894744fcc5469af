namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The live counters of one vCPU's async page faults. Written from the fault reader thread, the workers and the
/// vCPU's queue actor (each field with an interlocked operation), read through <see cref="Snapshot"/>.
/// </summary>
internal sealed class AsyncPfCounters
{
    private long _faults, _async, _sync, _joined, _readahead, _wakeups, _early, _cancelled, _cancelledWaits;
    private long _broadcasts, _broadcastsCoalesced, _hostWakeups, _failed, _guestFaults, _guestJoined, _guestReady, _guestWaitMicroseconds;
    private int _outstanding, _peakOutstanding, _liveWorkers, _peakWorkers;

    public void Fault() => Interlocked.Increment(ref _faults);
    public void Async() => Interlocked.Increment(ref _async);
    public void Sync() => Interlocked.Increment(ref _sync);
    public void Joined() => Interlocked.Increment(ref _joined);
    public void Readahead() => Interlocked.Increment(ref _readahead);
    public void Wakeup() => Interlocked.Increment(ref _wakeups);
    public void EarlyCompletion() => Interlocked.Increment(ref _early);
    public void Cancelled(int works) => Interlocked.Add(ref _cancelled, works);
    public void CancelledWait() => Interlocked.Increment(ref _cancelledWaits);
    public void Broadcast() => Interlocked.Increment(ref _broadcasts);
    public void BroadcastCoalesced() => Interlocked.Increment(ref _broadcastsCoalesced);
    public void HostWakeup() => Interlocked.Increment(ref _hostWakeups);
    public void Failed() => Interlocked.Increment(ref _failed);
    public void GuestFault() => Interlocked.Increment(ref _guestFaults);
    public void GuestJoined() => Interlocked.Increment(ref _guestJoined);
    public void GuestReady(TimeSpan waited)
    {
        Interlocked.Increment(ref _guestReady);
        Interlocked.Add(ref _guestWaitMicroseconds, (long)waited.TotalMicroseconds);
    }

    /// <summary>The vCPU side's count of outstanding works (async_pf.queued) changed to <paramref name="queued"/>.</summary>
    public void Outstanding(int queued)
    {
        Volatile.Write(ref _outstanding, queued);
        RaisePeak(ref _peakOutstanding, queued);
    }

    public void WorkerStarted() => RaisePeak(ref _peakWorkers, Interlocked.Increment(ref _liveWorkers));
    public void WorkerStopped() => Interlocked.Decrement(ref _liveWorkers);

    public AsyncPfVcpuCounters Snapshot(int vcpuId) => new(
        vcpuId,
        Interlocked.Read(ref _faults),
        Interlocked.Read(ref _async),
        Interlocked.Read(ref _sync),
        Interlocked.Read(ref _joined),
        Interlocked.Read(ref _readahead),
        Interlocked.Read(ref _wakeups),
        Interlocked.Read(ref _early),
        Interlocked.Read(ref _cancelled),
        Interlocked.Read(ref _cancelledWaits),
        Interlocked.Read(ref _broadcasts),
        Interlocked.Read(ref _broadcastsCoalesced),
        Interlocked.Read(ref _hostWakeups),
        Interlocked.Read(ref _failed),
        Interlocked.Read(ref _guestFaults),
        Interlocked.Read(ref _guestJoined),
        Interlocked.Read(ref _guestReady),
        Interlocked.Read(ref _guestWaitMicroseconds),
        Volatile.Read(ref _outstanding),
        Volatile.Read(ref _peakOutstanding),
        Volatile.Read(ref _liveWorkers),
        Volatile.Read(ref _peakWorkers));

    private static void RaisePeak(ref int peak, int now)
    {
        for (int seen = Volatile.Read(ref peak); now > seen; seen = Volatile.Read(ref peak))
            if (Interlocked.CompareExchange(ref peak, now, seen) == seen) return;
    }
}
