using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The <see cref="VmDirectory"/>'s record of live migrations: the running ones (one per VM at most) with who waits
/// for a cancel to end, and the last <see cref="RecentKept"/> that ended, for `vm migrations`. Owned by the directory
/// and used only from its thread; a new directory (the singleton moved) starts with none.
/// </summary>
internal sealed class DirectoryMigrations
{
    /// <summary>How many ended migrations are kept.</summary>
    public const int RecentKept = 50;

    private readonly Dictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly LinkedList<MigrationInfo> _recent = new();
    private long _serial;

    /// <summary>The running migration of VM <paramref name="vm"/>, if there is one.</summary>
    public MigrationInfo? RunningOf(string vm) => _running.TryGetValue(vm, out var r) ? r.Info : null;

    /// <summary>Records a new migration of <paramref name="vm"/> from <paramref name="source"/> to <paramref name="target"/>; returns it.</summary>
    public MigrationInfo Begin(string vm, string source, string target, Address sourceAddress, Address targetAddress, ulong memoryBytes)
    {
        var info = new MigrationInfo($"m-{++_serial}", vm, source, target, MigrationInfo.Running, DateTimeOffset.UtcNow, null, -1, 0, 0, 0, 0, memoryBytes);
        _running[vm] = new Running(info, sourceAddress, targetAddress);
        return info;
    }

    /// <summary>
    /// The migration's new standing (a round, or its end); returns who waited for its cancel to end when it ended.
    /// An update of a migration not running any more is dropped (null).
    /// </summary>
    public List<IActorRef>? Update(MigrationInfo info)
    {
        if (!_running.TryGetValue(info.Vm, out var running) || running.Info.Id != info.Id) return null;
        running.Info = info;
        if (!info.Ended) return [];
        _running.Remove(info.Vm);
        _recent.AddFirst(info with { EndedAt = info.EndedAt ?? DateTimeOffset.UtcNow });
        while (_recent.Count > RecentKept) _recent.RemoveLast();
        return running.CancelWaiters;
    }

    /// <summary><paramref name="waiter"/> hears how the VM's running migration ended.</summary>
    public void WaitForEnd(string vm, IActorRef waiter)
    {
        if (_running.TryGetValue(vm, out var running)) running.CancelWaiters.Add(waiter);
    }

    /// <summary>The running migrations from or to the node at <paramref name="address"/>, which is gone.</summary>
    public List<MigrationInfo> Touching(Address address) =>
        _running.Values.Where(r => r.Source == address || r.Target == address).Select(r => r.Info).ToList();

    /// <summary>The running migrations, then those that ended, newest first.</summary>
    public List<MigrationInfo> List() =>
        [.. _running.Values.Select(r => r.Info).OrderByDescending(i => i.StartedAt), .. _recent];

    private sealed class Running(MigrationInfo info, Address source, Address target)
    {
        public MigrationInfo Info { get; set; } = info;

        public Address Source { get; } = source;

        public Address Target { get; } = target;

        public List<IActorRef> CancelWaiters { get; } = [];
    }
}
