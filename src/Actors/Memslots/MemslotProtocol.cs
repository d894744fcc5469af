using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Actors.Memslots;

// Messages handled by MemslotSetActor (slots_lock). Replies go to the sender.

/// <summary>
/// Adds a memslot or replaces the slot with the same id. <paramref name="Backing"/> (optional) owns the host
/// memory behind the slot; it is disposed once the slot is gone and a grace period has passed.
/// Replies <see cref="MemslotsPublished"/>, later <see cref="MemslotsRetired"/> only if it replaced a slot; or <see cref="MemslotRequestFailed"/>.
/// </summary>
public sealed record SetMemslot(Memslot Slot, IDisposable? Backing = null);

/// <summary>Deletes memslot <paramref name="SlotId"/>. Replies <see cref="MemslotsPublished"/>, then <see cref="MemslotsRetired"/>; or <see cref="MemslotRequestFailed"/>.</summary>
public sealed record DeleteMemslot(uint SlotId);

/// <summary>Asks for the current snapshot. Replies <see cref="MemslotsSnapshot"/>.</summary>
public sealed record GetMemslots
{
    /// <summary>The one instance.</summary>
    public static readonly GetMemslots Instance = new();
}

/// <summary>
/// Teardown: deletes every slot, publishes the empty set and waits for the grace period. Replies
/// <see cref="MemslotsRetired"/> once every old snapshot is retired and every backing released.
/// </summary>
public sealed record RetireAllMemslots
{
    /// <summary>The one instance.</summary>
    public static readonly RetireAllMemslots Instance = new();
}

/// <summary>A new snapshot with generation <paramref name="Generation"/> is visible to every vCPU thread.</summary>
public sealed record MemslotsPublished(long Generation);

/// <summary>
/// Every snapshot older than <paramref name="Generation"/> is retired: every vCPU has passed a quiescent
/// point since it was replaced, and the backings of removed slots (<paramref name="ReleasedSlots"/>) are released.
/// </summary>
public sealed record MemslotsRetired(long Generation, IReadOnlyList<uint> ReleasedSlots);

/// <summary>The current memslots.</summary>
public sealed record MemslotsSnapshot(MemslotSet Memslots);

/// <summary>A memslot change was refused (overlap, unknown slot, accelerator error, VM stopping).</summary>
public sealed record MemslotRequestFailed(string Reason);

/// <summary>
/// A <see cref="ReadGuestMemory"/> of VM <paramref name="VmName"/>, passed on by the VmActor (internal): the writer
/// copies from the current snapshot in its own mailbox, where no backing can be released under the copy, and
/// answers the original sender.
/// </summary>
internal sealed record ReadGuestMemoryFor(string VmName, ReadGuestMemory Request);

/// <summary>A vCPU passed a quiescent point while a grace period was awaited (internal).</summary>
internal sealed record QuiescentPointPassed
{
    public static readonly QuiescentPointPassed Instance = new();
}
