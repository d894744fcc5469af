using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// One shadow page-table entry: the 64-bit word the software MMU keeps per guest page of a memslot.
/// Bits are in <see cref="SpteFlags"/>; bits 12-51 hold the host page frame (the host virtual address of
/// the page shifted right by 12). A value type: reading and comparing it is free; it only changes in an
/// <see cref="SpteTable"/> through one atomic operation.
/// </summary>
public readonly record struct Spte(ulong Raw)
{
    /// <summary>The bits that hold the host page frame.</summary>
    public const ulong PfnMask = ((1UL << 52) - 1) & ~((1UL << PageSize.Shift) - 1);

    /// <summary>The bits access tracking clears and saves (R, W, X); W is dropped, not saved (locking.rst).</summary>
    public const SpteFlags AccessBits = SpteFlags.Present | SpteFlags.Writable | SpteFlags.Executable;

    private const int SavedShift = 54;

    /// <summary>The empty SPTE.</summary>
    public static readonly Spte Empty = new(0);

    /// <summary>Builds an SPTE mapping host frame <paramref name="pfn"/> with <paramref name="flags"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">pfn does not fit in 40 bits.</exception>
    public static Spte Make(ulong pfn, SpteFlags flags)
    {
        if (pfn >= 1UL << 40) throw new ArgumentOutOfRangeException(nameof(pfn), $"host frame 0x{pfn:x} does not fit in an SPTE (40 bits)");
        return new Spte((pfn << PageSize.Shift) | (ulong)flags);
    }

    /// <summary>The flag bits.</summary>
    public SpteFlags Flags => (SpteFlags)(Raw & ~PfnMask);

    /// <summary>The host page frame (host virtual address >> 12).</summary>
    public ulong Pfn => (Raw & PfnMask) >> PageSize.Shift;

    /// <summary>The host virtual address of the page.</summary>
    public nint HostAddress => (nint)(Raw & PfnMask);

    /// <summary>True if no bit is set.</summary>
    public bool IsEmpty => Raw == 0;

    /// <summary>True if the page is mapped (EPT R).</summary>
    public bool IsPresent => Has(SpteFlags.Present);

    /// <summary>True if guest writes reach memory without a fault.</summary>
    public bool IsWritable => Has(SpteFlags.Writable);

    /// <summary>True if the guest may execute from the page.</summary>
    public bool IsExecutable => Has(SpteFlags.Executable);

    /// <summary>True if the page was accessed since it was last aged.</summary>
    public bool IsAccessed => Has(SpteFlags.Accessed);

    /// <summary>True if the page may have been written since its dirty state was last harvested.</summary>
    public bool IsDirty => Has(SpteFlags.Dirty);

    /// <summary>True if the host allows writes to the page.</summary>
    public bool IsHostWritable => Has(SpteFlags.HostWritable);

    /// <summary>True if the MMU allows writes to the page (it is not write-tracked).</summary>
    public bool IsMmuWritable => Has(SpteFlags.MmuWritable);

    /// <summary>True if the SPTE is not present because it is tracked for accesses.</summary>
    public bool IsAccessTracked => Has(SpteFlags.AccessTracked);

    /// <summary>
    /// True if the fast path may make the SPTE writable: both Host-writable and MMU-writable are set
    /// (locking.rst: "spte.HOST_WRITEABLE = 1 and spte.WRITE_PROTECT = 1").
    /// </summary>
    public bool CanFastWrite => (Raw & (ulong)(SpteFlags.HostWritable | SpteFlags.MmuWritable)) == (ulong)(SpteFlags.HostWritable | SpteFlags.MmuWritable);

    /// <summary>True if the guest may reach memory through this SPTE with <paramref name="access"/> without a fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Permits(MmuAccess access) => access switch
    {
        MmuAccess.Read => IsPresent,
        MmuAccess.Write => Has(SpteFlags.Present | SpteFlags.Writable),
        MmuAccess.Execute => Has(SpteFlags.Present | SpteFlags.Executable),
        _ => UnknownAccess(access),
    };

    private static bool UnknownAccess(MmuAccess access) =>
        throw new ArgumentOutOfRangeException(nameof(access), access, "unknown access kind");

    /// <summary>True if every bit of <paramref name="flags"/> is set.</summary>
    public bool Has(SpteFlags flags) => (Raw & (ulong)flags) == (ulong)flags;

    /// <summary>This SPTE with <paramref name="flags"/> set.</summary>
    public Spte With(SpteFlags flags) => new(Raw | (ulong)flags);

    /// <summary>This SPTE with <paramref name="flags"/> cleared.</summary>
    public Spte Without(SpteFlags flags) => new(Raw & ~(ulong)flags);

    /// <summary>
    /// The access-tracked form of a present SPTE (locking.rst "Lockless Access Tracking"): R and X move to
    /// the saved bits, W and Accessed are cleared, everything else (frame, Dirty, Host/MMU-writable) stays.
    /// </summary>
    public Spte ToAccessTracked()
    {
        ulong saved = (Raw & (ulong)(SpteFlags.Present | SpteFlags.Executable)) << SavedShift;
        ulong rest = Raw & ~(ulong)(AccessBits | SpteFlags.Accessed);
        return new Spte(rest | saved | (ulong)SpteFlags.AccessTracked);
    }

    /// <summary>
    /// The present form of an access-tracked SPTE: the saved R/X bits restored and Accessed set. W is not
    /// restored; a write access sets it separately (and Dirty with it).
    /// </summary>
    public Spte RestoreFromAccessTrack()
    {
        ulong saved = (Raw >> SavedShift) & (ulong)(SpteFlags.Present | SpteFlags.Executable);
        ulong rest = Raw & ~(ulong)(SpteFlags.AccessTracked | SpteFlags.SavedPresent | SpteFlags.SavedExecutable);
        return new Spte(rest | saved | (ulong)SpteFlags.Accessed);
    }

    /// <inheritdoc />
    public override string ToString() => IsEmpty ? "spte(empty)" : $"spte(pfn 0x{Pfn:x} {Flags})";
}
