using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// The SPTEs of one memslot: one 64-bit word per guest page, index = gfn - slot base gfn. Entries change
/// only through atomic operations (Interlocked.CompareExchange / Exchange), never plain stores, because the
/// fast page fault path updates them without mmu_lock (locking.rst: "the spte is always atomically updated").
/// A table belongs to exactly one <see cref="Memslot"/> value, whose guest base and host address never
/// change; when the slot is deleted or moved, the table is zapped under the mmu_lock write side and retired,
/// and the new slot gets a new table.
/// </summary>
public sealed class SpteTable
{
    private readonly ulong[] _entries;
    private readonly ulong _basePfn;
    private readonly ulong _baseGfn;
    private readonly bool _readOnly;
    private volatile Memslot _slot;
    private readonly MmuHooks? _hooks;
    private volatile bool _retired;
    private volatile DirtyBitmap? _dirtyLog;
    // Pages the host write-protects (Host-writable clear) and pages the MMU write-tracks (MMU-writable
    // clear). Changed under the mmu_lock write side, read by the slow path under the read side.
    private readonly bool[] _hostWriteProtected;
    private readonly bool[] _writeTracked;
    private long _permissionEpoch;

    internal SpteTable(Memslot slot, MmuHooks? hooks)
    {
        if (slot.Pages > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(slot), $"memslot {slot.Slot} has {slot.Pages} pages; at most {int.MaxValue} are supported");
        _slot = slot;
        _baseGfn = slot.BaseGfn;
        _readOnly = slot.IsReadOnly;
        _entries = new ulong[slot.Pages];
        _hostWriteProtected = new bool[slot.Pages];
        _writeTracked = new bool[slot.Pages];
        _basePfn = (ulong)slot.HostAddress >> PageSize.Shift;
        _hooks = hooks;
    }

    /// <summary>
    /// The memslot this table maps. Its guest base, size, host address and read-only flag never change for
    /// the life of the table; only the log-dirty flag may (see <see cref="DirtyLog"/>).
    /// </summary>
    public Memslot Slot => _slot;

    /// <summary>True if the slot is read-only (fixed for the life of the table, like its mapping).</summary>
    public bool IsReadOnly => _readOnly;

    /// <summary>Number of entries (pages of the slot).</summary>
    public ulong Pages => (ulong)_entries.LongLength;

    /// <summary>First gfn the table maps.</summary>
    public ulong BaseGfn => _baseGfn;

    /// <summary>
    /// True once the slot was deleted or moved: every entry was zapped under the mmu_lock write side and
    /// nothing installs into the table again.
    /// </summary>
    public bool IsRetired => _retired;

    /// <summary>
    /// Counts the operations that took a permission away from some SPTE of this table (zap, write-protect,
    /// dirty-log harvest or clear, start of dirty logging, aging, retirement). Bumped after the SPTEs changed
    /// and before the TLB flush that follows, so a vCPU that maps the whole slot at once (see
    /// <see cref="SoftMmu.TryInstallWholeSlot"/>) and finds it changed at its next flush drops that mapping.
    /// </summary>
    public long PermissionEpoch => Volatile.Read(ref _permissionEpoch);

    /// <summary>The dirty bitmap while the slot logs dirty pages, else null.</summary>
    public DirtyBitmap? DirtyLog => _dirtyLog;

    /// <summary>Reads entry <paramref name="index"/> (a volatile read: sees every completed atomic update).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Spte Read(ulong index)
    {
        _hooks?.At?.Invoke(MmuHookPoint.SpteRead, BaseGfn + index);
        return new Spte(Volatile.Read(ref _entries[index]));
    }

    /// <summary>
    /// The host frame of page <paramref name="index"/>: fixed by the immutable slot, which is what makes a
    /// direct SPTE's gfn->pfn mapping fixed (locking.rst: "the spte of direct sp is fixed to gfn").
    /// </summary>
    public ulong PfnOf(ulong index) => _basePfn + index;

    /// <summary>The table index of <paramref name="gfn"/>, which must be in the slot.</summary>
    public ulong IndexOf(ulong gfn) => gfn - BaseGfn < Pages
        ? gfn - BaseGfn
        : throw new ArgumentOutOfRangeException(nameof(gfn), $"gfn 0x{gfn:x} is outside memslot {Slot.Slot}");

    /// <summary>cmpxchg: replaces entry <paramref name="index"/> with <paramref name="desired"/> if it still is <paramref name="expected"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryReplace(ulong index, Spte expected, Spte desired)
    {
        _hooks?.At?.Invoke(MmuHookPoint.SpteUpdate, BaseGfn + index);
        return Interlocked.CompareExchange(ref _entries[index], desired.Raw, expected.Raw) == expected.Raw;
    }

    /// <summary>xchg: replaces entry <paramref name="index"/> and returns what it was, so no bit set concurrently is lost.</summary>
    internal Spte Exchange(ulong index, Spte value)
    {
        _hooks?.At?.Invoke(MmuHookPoint.SpteUpdate, BaseGfn + index);
        return new Spte(Interlocked.Exchange(ref _entries[index], value.Raw));
    }

    internal MmuHooks? Hooks => _hooks;

    internal void Retire()
    {
        _retired = true;
        NoteDowngrade();
    }

    /// <summary>Records that some SPTE lost a permission (before the TLB flush that follows).</summary>
    internal void NoteDowngrade() => Interlocked.Increment(ref _permissionEpoch);

    /// <summary>Replaces the slot record after a flags-only change (same mapping).</summary>
    internal void UpdateSlot(Memslot slot) => _slot = slot;

    internal void SetDirtyLog(DirtyBitmap? bitmap) => _dirtyLog = bitmap;

    internal bool IsHostWriteProtected(ulong index) => Volatile.Read(ref _hostWriteProtected[index]);

    internal bool IsWriteTracked(ulong index) => Volatile.Read(ref _writeTracked[index]);

    internal void SetHostWriteProtected(ulong index, bool value) => Volatile.Write(ref _hostWriteProtected[index], value);

    internal void SetWriteTracked(ulong index, bool value) => Volatile.Write(ref _writeTracked[index], value);

    /// <inheritdoc />
    public override string ToString() => $"spte table of {Slot}{(IsRetired ? " (retired)" : "")}";
}
