using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Actors.Memslots;

/// <summary>
/// The memslot state of one VM: the accelerator's slots, the backings that own their host memory, and the
/// snapshots waiting for a grace period before their removed slots may be released. Written only by the
/// MemslotSetActor while it lives (it is slots_lock); its parent finishes retirement with
/// <see cref="RetireAllNow"/> only after that actor and every vCPU thread have stopped.
/// </summary>
internal sealed class MemslotTable
{
    private readonly IVirtualMachine _vm;
    private readonly Dictionary<uint, IDisposable?> _backings = new();
    private readonly List<PendingRetirement> _pending = new();

    public MemslotTable(IVirtualMachine vm, MemslotView view, GracePeriod gracePeriod)
    {
        _vm = vm;
        View = view;
        GracePeriod = gracePeriod;
    }

    /// <summary>The snapshot the vCPU threads read.</summary>
    public MemslotView View { get; }

    /// <summary>The VM's readers.</summary>
    public GracePeriod GracePeriod { get; }

    /// <summary>True while some removed slot still waits for its grace period.</summary>
    public bool HasPendingRetirements => _pending.Count > 0;

    /// <summary>True once every slot has been deleted and retired.</summary>
    public bool IsFullyRetired { get; private set; }

    /// <summary>Adds or replaces a slot in the accelerator and publishes the new snapshot.</summary>
    /// <exception cref="MemslotException">the slot overlaps another.</exception>
    public long Set(Memslot slot, IDisposable? backing, object? requester)
    {
        bool replaces = _vm.Memslots.ById(slot.Slot) is not null;
        _vm.SetMemoryRegion(slot);
        var removed = new List<(uint, IDisposable?)>();
        if (replaces)
        {
            // A replacement that keeps the same backing (new flags, same memory) releases nothing.
            var (id, old) = Take(slot.Slot);
            removed.Add((id, ReferenceEquals(old, backing) ? null : old));
        }
        _backings[slot.Slot] = backing;
        return Publish(removed, requester);
    }

    /// <summary>Deletes a slot in the accelerator and publishes the new snapshot.</summary>
    /// <exception cref="MemslotException">no slot has that id.</exception>
    public long Delete(uint slotId, object? requester)
    {
        if (_vm.Memslots.ById(slotId) is null) throw new MemslotException($"memslot {slotId} does not exist");
        var removed = Take(slotId);
        _vm.DeleteMemoryRegion(slotId);
        return Publish([removed], requester);
    }

    /// <summary>Deletes every slot and publishes the empty set (teardown).</summary>
    public long DeleteAll(object? requester)
    {
        var removed = new List<(uint, IDisposable?)>();
        foreach (var slot in _vm.Memslots.Slots.ToArray())
        {
            removed.Add(Take(slot.Slot));
            _vm.DeleteMemoryRegion(slot.Slot);
        }
        IsFullyRetired = true;
        return Publish(removed, requester, always: true);
    }

    /// <summary>
    /// Releases what every completed grace period protected and returns the retirements that finished,
    /// oldest first. Kicks readers for the rest (expedited), and re-checks after asking them to call back.
    /// </summary>
    public IReadOnlyList<CompletedRetirement> CompleteRetirements()
    {
        var done = new List<CompletedRetirement>();
        for (int attempt = 0; attempt < 2 && _pending.Count > 0; attempt++)
        {
            while (_pending.Count > 0 && _pending[0].Snapshot.IsComplete)
            {
                var p = _pending[0];
                _pending.RemoveAt(0);
                done.Add(Release(p));
            }
            if (_pending.Count == 0) break;
            if (attempt == 0) GracePeriod.Await(_pending[0].Snapshot);
        }
        if (_pending.Count == 0) GracePeriod.StopAwaiting();
        return done;
    }

    /// <summary>
    /// Deletes every slot and releases every backing at once. Only valid once no reader can hold a snapshot
    /// (every vCPU thread has ended): the grace period is then trivially over.
    /// </summary>
    public IReadOnlyList<CompletedRetirement> RetireAllNow()
    {
        if (!IsFullyRetired) DeleteAll(null);
        var done = _pending.Select(Release).ToList();
        _pending.Clear();
        GracePeriod.StopAwaiting();
        return done;
    }

    private (uint Slot, IDisposable? Backing) Take(uint slotId)
    {
        _backings.Remove(slotId, out var backing);
        return (slotId, backing);
    }

    // A change that removed nothing has nothing to retire; teardown always waits for its grace period.
    private long Publish(List<(uint Slot, IDisposable? Backing)> removed, object? requester, bool always = false)
    {
        var next = _vm.Memslots;
        View.Publish(next);
        if (removed.Count > 0 || always)
            _pending.Add(new PendingRetirement(next.Generation, GracePeriod.Begin(), removed, requester));
        return next.Generation;
    }

    private static CompletedRetirement Release(PendingRetirement p)
    {
        foreach (var (_, backing) in p.Removed) backing?.Dispose();
        return new CompletedRetirement(p.Generation, p.Removed.Select(r => r.Slot).ToArray(), p.Requester);
    }

    private sealed record PendingRetirement(long Generation, GracePeriodSnapshot Snapshot, List<(uint Slot, IDisposable? Backing)> Removed, object? Requester);
}

/// <summary>A snapshot that has been retired: its removed slots were released.</summary>
internal sealed record CompletedRetirement(long Generation, IReadOnlyList<uint> ReleasedSlots, object? Requester);
