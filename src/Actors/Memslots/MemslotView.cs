using Actorvisor.Hardware.Memory;

namespace Actorvisor.Actors.Memslots;

/// <summary>
/// The memslot snapshot the vCPU threads read (kvm->memslots under srcu_read_lock): an immutable
/// <see cref="MemslotSet"/> behind a reference that only the MemslotSetActor replaces. Readers take no lock;
/// a snapshot a reader loaded stays valid until that reader passes a quiescent point.
/// </summary>
public sealed class MemslotView
{
    private MemslotSet _current;

    /// <summary>Starts with <paramref name="initial"/>.</summary>
    public MemslotView(MemslotSet initial) => _current = initial;

    /// <summary>The newest published snapshot (a volatile read).</summary>
    public MemslotSet Current => Volatile.Read(ref _current);

    /// <summary>Publishes <paramref name="next"/> with a full fence and returns the snapshot it replaced.</summary>
    internal MemslotSet Publish(MemslotSet next) => Interlocked.Exchange(ref _current, next);
}
