
namespace Actorvisor.Hardware.Memory;

/// <summary>
/// An immutable set of non-overlapping memslots sorted by guest-physical address, with O(log n)
/// gpa -> slot lookup. Readers (vCPU threads) hold a snapshot and take no lock; writers build a new set
/// (the SRCU analogue: publish a new snapshot, retire the old one after a grace period).
/// </summary>
public sealed class MemslotSet
{
    private readonly Memslot[] _byAddress;

    /// <summary>The empty set.</summary>
    public static readonly MemslotSet Empty = new([], 0);

    private MemslotSet(Memslot[] byAddress, long generation)
    {
        _byAddress = byAddress;
        Generation = generation;
    }

    /// <summary>Incremented by every change; lets caches tell snapshots apart.</summary>
    public long Generation { get; }

    /// <summary>Slots sorted by guest-physical address.</summary>
    public IReadOnlyList<Memslot> Slots => _byAddress;

    /// <summary>Number of slots.</summary>
    public int Count => _byAddress.Length;

    /// <summary>Total bytes of guest memory in all slots.</summary>
    public ulong TotalBytes => _byAddress.Aggregate(0UL, (s, m) => s + m.Size);

    /// <summary>Builds a validated set from <paramref name="slots"/>.</summary>
    public static MemslotSet Of(IEnumerable<Memslot> slots) =>
        slots.Aggregate(Empty, (set, s) => set.With(s));

    /// <summary>
    /// A new set with <paramref name="slot"/> added, or replacing the slot of the same id (KVM semantics:
    /// the id names the slot; moving or resizing it replaces it).
    /// </summary>
    /// <exception cref="MemslotException">the slot overlaps another slot.</exception>
    public MemslotSet With(Memslot slot)
    {
        var others = _byAddress.Where(s => s.Slot != slot.Slot).ToList();
        var clash = others.FirstOrDefault(slot.Overlaps);
        if (clash is not null)
            throw new MemslotException($"memslot {slot.Slot} [0x{slot.GuestPhysAddr:x}, 0x{slot.End:x}) overlaps memslot {clash.Slot} [0x{clash.GuestPhysAddr:x}, 0x{clash.End:x})");
        int i = others.FindIndex(s => s.GuestPhysAddr > slot.GuestPhysAddr);
        others.Insert(i < 0 ? others.Count : i, slot);
        return new MemslotSet([.. others], Generation + 1);
    }

    /// <summary>A new set without slot <paramref name="slotId"/>.</summary>
    /// <exception cref="MemslotException">no slot has that id.</exception>
    public MemslotSet Without(uint slotId)
    {
        if (!_byAddress.Any(s => s.Slot == slotId)) throw new MemslotException($"memslot {slotId} does not exist");
        return new MemslotSet(_byAddress.Where(s => s.Slot != slotId).ToArray(), Generation + 1);
    }

    /// <summary>The slot with id <paramref name="slotId"/>, or null.</summary>
    public Memslot? ById(uint slotId) => Array.Find(_byAddress, s => s.Slot == slotId);

    /// <summary>The slot containing <paramref name="gpa"/>, or null (binary search).</summary>
    public Memslot? Find(ulong gpa)
    {
        int lo = 0, hi = _byAddress.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var s = _byAddress[mid];
            if (gpa < s.GuestPhysAddr) hi = mid - 1;
            else if (gpa >= s.End) lo = mid + 1;
            else return s;
        }
        return null;
    }

    /// <summary>Translates <paramref name="gpa"/> to a host address if a slot covers all <paramref name="length"/> bytes.</summary>
    public bool TryTranslate(ulong gpa, ulong length, out nint host, out Memslot? slot)
    {
        slot = Find(gpa);
        if (slot is null || length > slot.End - gpa) { host = 0; return false; }
        host = slot.HostAddressOf(gpa);
        return true;
    }
}
