namespace Actorvisor.Actors.Memslots;

/// <summary>
/// The grace-period machinery of one VM (the kvm->srcu analogue; docs/architecture.md "The kernel's locks in Actorvisor"): memslot readers (vCPU
/// threads) register a <see cref="QuiescentState"/>; the single memslot writer publishes a new snapshot,
/// takes a <see cref="GracePeriodSnapshot"/>, and may free what only the old snapshot referenced once every
/// reader has passed a quiescent point or is idle. Waiting never blocks: readers call back the writer (at
/// most once per request) when they pass a quiescent point while a grace period is awaited.
/// </summary>
public sealed class GracePeriod
{
    private readonly object _gate = new();
    private QuiescentState[] _readers = [];
    private long _requestSequence;
    private int _awaiting;
    private Action? _onReaderQuiesced;

    /// <summary>Registers a reader; <paramref name="kick"/> forces it out of the guest.</summary>
    public QuiescentState RegisterReader(Action kick)
    {
        ArgumentNullException.ThrowIfNull(kick);
        var reader = new QuiescentState(this, kick);
        lock (_gate) _readers = [.. _readers, reader];
        return reader;
    }

    /// <summary>The registered readers.</summary>
    public IReadOnlyList<QuiescentState> Readers => Volatile.Read(ref _readers);

    /// <summary>Set by the writer: called (on a reader's thread) when a reader passes a quiescent point while a grace period is awaited.</summary>
    public void OnReaderQuiesced(Action callback) => _onReaderQuiesced = callback;

    /// <summary>Non-zero while the writer awaits a grace period; readers notify once per value.</summary>
    internal long RequestSequence => Volatile.Read(ref _awaiting) != 0 ? Volatile.Read(ref _requestSequence) : 0;

    /// <summary>
    /// Starts a grace period after the writer has published a new snapshot. The full fence orders the
    /// publish before the counter reads (the reader side pairs it with its interlocked bump).
    /// </summary>
    public GracePeriodSnapshot Begin()
    {
        Interlocked.MemoryBarrier();
        var readers = Readers;
        var values = new long[readers.Count];
        for (int i = 0; i < readers.Count; i++) values[i] = readers[i].Value;
        return new GracePeriodSnapshot(readers, values);
    }

    /// <summary>
    /// Asks readers to call back on their next quiescent point, and kicks those still inside the guest.
    /// The caller re-checks <see cref="GracePeriodSnapshot.IsComplete"/> afterwards: a reader that passed
    /// its quiescent point before the request became visible does not call back.
    /// </summary>
    public void Await(GracePeriodSnapshot snapshot)
    {
        Interlocked.Increment(ref _requestSequence);
        Interlocked.Exchange(ref _awaiting, 1);
        for (int i = 0; i < snapshot.Readers.Count; i++)
            if (!snapshot.Readers[i].HasPassedSince(snapshot.Values[i])) snapshot.Readers[i].Kick();
    }

    /// <summary>No grace period is awaited any more: readers stop calling back.</summary>
    public void StopAwaiting() => Interlocked.Exchange(ref _awaiting, 0);

    internal void ReaderQuiesced() => _onReaderQuiesced?.Invoke();
}

/// <summary>The reader counters at the start of a grace period.</summary>
public sealed class GracePeriodSnapshot
{
    internal GracePeriodSnapshot(IReadOnlyList<QuiescentState> readers, long[] values)
    {
        Readers = readers;
        Values = values;
    }

    internal IReadOnlyList<QuiescentState> Readers { get; }
    internal long[] Values { get; }

    /// <summary>True once every reader has passed a quiescent point since the snapshot, or is idle.</summary>
    public bool IsComplete
    {
        get
        {
            for (int i = 0; i < Readers.Count; i++)
                if (!Readers[i].HasPassedSince(Values[i])) return false;
            return true;
        }
    }
}
