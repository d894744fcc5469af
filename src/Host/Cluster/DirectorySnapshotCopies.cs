using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The <see cref="VmDirectory"/>'s copies of itself on the agents: it schedules a copy after a change (bursts of
/// changes make one copy, within <see cref="VmDirectory.SnapshotDelay"/>), sends it, records which copy each node
/// holds (for `cluster status`), and which snapshot the directory last recovered from. Owned by the directory and used
/// only from its thread; the directory's timers come from <paramref name="timers"/> (set after its constructor).
/// </summary>
internal sealed class DirectorySnapshotCopies(Func<ITimerScheduler> timers)
{
    private readonly Dictionary<Address, DateTimeOffset> _copies = new();
    private DateTimeOffset _recoveredFrom = DateTimeOffset.MinValue;

    /// <summary>The time of the copy each node last stored.</summary>
    public IReadOnlyDictionary<Address, DateTimeOffset> Copies => _copies;

    /// <summary>When the directory first changed since its last copy (or its start).</summary>
    public DateTimeOffset ChangedAt { get; private set; } = DateTimeOffset.UtcNow;

    /// <summary>Whether a change has not been copied yet.</summary>
    public bool Pending { get; private set; }

    /// <summary>A change: a copy goes out within the delay, unless one is already due.</summary>
    public void Changed()
    {
        if (Pending) return;
        Pending = true;
        ChangedAt = DateTimeOffset.UtcNow;
        timers().StartSingleTimer("snapshot", Due.Instance, VmDirectory.SnapshotDelay);
    }

    /// <summary>Sends <paramref name="snapshot"/> to every agent now.</summary>
    public void Publish(DirectorySnapshot snapshot, IEnumerable<IActorRef> agents)
    {
        Pending = false;
        foreach (var agent in agents) agent.Tell(snapshot);
    }

    /// <summary>A node stored the copy taken at <paramref name="taken"/> (a late answer for an older copy changes nothing).</summary>
    public void Stored(Address from, DateTimeOffset taken)
    {
        if (!_copies.TryGetValue(from, out var had) || taken > had) _copies[from] = taken;
    }

    /// <summary>The node is gone: its copy is no longer counted.</summary>
    public void Forget(Address node) => _copies.Remove(node);

    /// <summary>Whether <paramref name="snapshot"/> is newer than the one recovered from last; if so it is the one now.</summary>
    public bool TryRecoverFrom(DirectorySnapshot snapshot)
    {
        if (snapshot.Taken <= _recoveredFrom) return false;
        _recoveredFrom = snapshot.Taken;
        return true;
    }

    /// <summary>The timer's message: the copy is due.</summary>
    internal sealed record Due
    {
        /// <summary>The one instance.</summary>
        public static readonly Due Instance = new();
    }
}
