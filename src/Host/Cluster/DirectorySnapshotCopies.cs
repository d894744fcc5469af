using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The <see cref="VmDirectory"/>'s copies of itself on the agents: it schedules a copy after a change (bursts of
/// changes make one copy, within <see cref="VmDirectory.SnapshotDelay"/>), sends it, records which copy each node
/// holds (for `cluster status`), and which snapshot the directory last recovered from. A copy is numbered; an agent that
/// holds the previous one gets only the changes (<see cref="DirectorySnapshotDelta"/>), so a copy's cost follows what
/// changed, not how many VMs there are; an agent new to this directory, or one that answers that it fell behind, gets
/// the whole state once (<see cref="DirectorySnapshot"/>). Owned by the directory and used only from its thread; the
/// directory's timers come from <paramref name="timers"/> (set after its constructor).
/// </summary>
internal sealed class DirectorySnapshotCopies(Func<ITimerScheduler> timers)
{
    private readonly Dictionary<Address, DateTimeOffset> _copies = new();
    // Nodes whose next copy is whole, and the number of the whole copy each node was sent last.
    private readonly HashSet<Address> _sendWhole = new();
    private readonly Dictionary<Address, long> _wholeSent = new();
    private readonly string _epoch = Guid.NewGuid().ToString("N");
    private long _sequence;
    private long _subscriptionsCopied = -1;
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

    /// <summary>The next copy to <paramref name="node"/> is whole (its agent is new, or announced itself again).</summary>
    public void SendWhole(Address node) => _sendWhole.Add(node);

    /// <summary>
    /// Sends the next copy to the agents of <paramref name="nodes"/> now: the VMs <paramref name="changed"/> and
    /// <paramref name="removed"/> since the last one (with the subscriptions if they changed), or, to a node that needs
    /// it, the whole state made by <paramref name="whole"/> (from its time, number and epoch).
    /// </summary>
    public void Publish(IReadOnlyList<VmLocation> changed, IReadOnlyList<string> removed, DirectorySubscriptions subscriptions,
        IEnumerable<DirectoryNode> nodes, Func<DateTimeOffset, long, string, DirectorySnapshot> whole)
    {
        Pending = false;
        var taken = DateTimeOffset.UtcNow;
        long sequence = ++_sequence;
        var subscriptionsNow = subscriptions.Version == _subscriptionsCopied ? null : subscriptions.Snapshot();
        _subscriptionsCopied = subscriptions.Version;
        var delta = new DirectorySnapshotDelta(_epoch, sequence, taken, changed, removed, subscriptionsNow);
        DirectorySnapshot? all = null;
        foreach (var node in nodes)
        {
            if (_sendWhole.Remove(node.Address))
            {
                node.Agent.Tell(all ??= whole(taken, sequence, _epoch));
                _wholeSent[node.Address] = sequence;
            }
            else node.Agent.Tell(delta);
        }
    }

    /// <summary>
    /// A node's answer to a copy: it stored it (a late answer for an older copy changes nothing), or it could not apply
    /// that delta; returns true if the node is to get the whole state, which the caller schedules. A refusal of a delta
    /// sent before the last whole copy to that node is moot.
    /// </summary>
    public bool Stored(Address from, SnapshotStored answer)
    {
        if (answer.NeedsWhole)
        {
            if (_wholeSent.TryGetValue(from, out var sent) && answer.Sequence <= sent) return false;
            return _sendWhole.Add(from);
        }
        if (!_copies.TryGetValue(from, out var had) || answer.Taken > had) _copies[from] = answer.Taken;
        return false;
    }

    /// <summary>The node is gone: its copy is no longer counted.</summary>
    public void Forget(Address node)
    {
        _copies.Remove(node);
        _sendWhole.Remove(node);
        _wholeSent.Remove(node);
    }

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
