using System.Collections.Immutable;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// A node's copy of the VM directory's state, as its agent holds it: made from a whole <see cref="DirectorySnapshot"/>
/// and brought forward by each <see cref="DirectorySnapshotDelta"/> that follows it. Immutable (applying a delta makes a
/// new replica that shares all but the changed VMs with the old one), so the agent hands each one to the node's API
/// gateway, which reads it on its own thread, without copying it.
/// </summary>
public sealed class DirectoryReplica
{
    private DirectoryReplica(string? epoch, long sequence, DateTimeOffset taken, ImmutableDictionary<string, VmLocation> vms,
        IReadOnlyList<EventSubscription> subscriptions)
    {
        Epoch = epoch;
        Sequence = sequence;
        Taken = taken;
        Vms = vms;
        Subscriptions = subscriptions;
    }

    /// <summary>The directory whose copy this is.</summary>
    public string? Epoch { get; }

    /// <summary>The number of the directory's copy it is.</summary>
    public long Sequence { get; }

    /// <summary>When the directory took that copy.</summary>
    public DateTimeOffset Taken { get; }

    /// <summary>Every VM and where it is, by name.</summary>
    public ImmutableDictionary<string, VmLocation> Vms { get; }

    /// <summary>Every event subscription.</summary>
    public IReadOnlyList<EventSubscription> Subscriptions { get; }

    /// <summary>The replica of a whole copy.</summary>
    public static DirectoryReplica Of(DirectorySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var vms = ImmutableDictionary.CreateBuilder<string, VmLocation>(StringComparer.Ordinal);
        foreach (var vm in snapshot.Vms) vms[vm.Name] = vm;
        return new DirectoryReplica(snapshot.Epoch, snapshot.Sequence, snapshot.Taken, vms.ToImmutable(), snapshot.Subscriptions);
    }

    /// <summary>Whether <paramref name="delta"/> is this directory's and already covered by this replica (a late duplicate).</summary>
    public bool Covers(DirectorySnapshotDelta delta) => delta.Epoch == Epoch && delta.Sequence <= Sequence;

    /// <summary>The replica with <paramref name="delta"/> applied, or null if the delta does not follow this copy.</summary>
    public DirectoryReplica? Apply(DirectorySnapshotDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (delta.Epoch != Epoch || delta.Sequence != Sequence + 1) return null;
        var vms = Vms.ToBuilder();
        foreach (var name in delta.Removed) vms.Remove(name);
        foreach (var vm in delta.Changed) vms[vm.Name] = vm;
        return new DirectoryReplica(Epoch, delta.Sequence, delta.Taken, vms.ToImmutable(), delta.Subscriptions ?? Subscriptions);
    }

    /// <summary>The whole copy this replica holds (for the node's announcements, from which a new directory recovers).</summary>
    public DirectorySnapshot ToSnapshot() => new(Taken, Vms.Values.ToList(), Subscriptions, Sequence, Epoch);
}
