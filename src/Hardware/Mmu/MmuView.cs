using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// What the MMU maps right now: a memslot set and one SPTE table per slot, sorted by base gfn. Immutable and
/// published with a volatile write under the mmu_lock write side; lockless readers (the fast path, vCPU TLB
/// fills, aging) use whichever view they read, which is safe because a replaced table is zapped before the
/// write side is released and a TLB flush then waits out every vCPU that could still use it (the SRCU grace
/// period of this MMU).
/// </summary>
internal sealed class MmuView
{
    public static readonly MmuView Empty = new(MemslotSet.Empty, []);

    public MmuView(MemslotSet memslots, SpteTable[] tables)
    {
        Memslots = memslots;
        Tables = tables;
    }

    public MemslotSet Memslots { get; }

    /// <summary>Sorted by base gfn; slots do not overlap.</summary>
    public SpteTable[] Tables { get; }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public SpteTable? Find(ulong gfn)
    {
        int lo = 0, hi = Tables.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var t = Tables[mid];
            if (gfn < t.BaseGfn) hi = mid - 1;
            else if (gfn - t.BaseGfn >= t.Pages) lo = mid + 1;
            else return t;
        }
        return null;
    }

    public SpteTable? ById(uint slotId) => Array.Find(Tables, t => t.Slot.Slot == slotId);
}
