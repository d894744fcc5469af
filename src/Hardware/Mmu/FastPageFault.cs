using System.Runtime.CompilerServices;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// The fast page fault path (locking.rst section 2, "Fast page fault"): fixes a write-protection fault on
/// an SPTE whose Host-writable and MMU-writable bits are both set, and a fault on an access-tracked SPTE,
/// with one cmpxchg and no mmu_lock. Everything else falls back to the slow path.
/// <para>
/// Why this is safe without the lock:
/// <list type="bullet">
/// <item>Every bit the fast path relies on (present, access-tracked, Host-writable, MMU-writable, the frame)
/// is in the same 64-bit word it swaps, so any concurrent change — a zap, a write-protect, an age, another
/// fast fix — makes the cmpxchg fail ("changing these bits can be detected by cmpxchg").</item>
/// <item>Dirty is set in the same cmpxchg that sets Writable, so a page can never become writable without
/// being recorded dirty (KVM's mark_page_dirty after the cmpxchg, made atomic with it).</item>
/// <item>The ABA case (locking.rst "The mapping from gfn to pfn"): the SPTE sits at a fixed index of a table
/// that belongs to one immutable memslot, so it always describes the same gfn, and its frame is always
/// <see cref="SpteTable.PfnOf"/> of that slot. A zap followed by a reinstall in the same table therefore
/// writes back the same frame; a memslot delete or move (the only way the gfn->pfn mapping can change) zaps
/// the old table under the mmu_lock write side, retires it and installs into a new table, so a cmpxchg on the
/// old table compares against zero and fails. A direct SPTE's gfn->pfn mapping is fixed while it is present.</item>
/// </list>
/// </para>
/// </summary>
public static class FastPageFault
{
    /// <summary>How many times the fast path re-reads a contended SPTE before giving up (KVM retries 4 times too).</summary>
    public const int MaxAttempts = 4;

    /// <summary>Result of <see cref="TryFix"/>.</summary>
    public enum Result
    {
        /// <summary>The cmpxchg installed the fix.</summary>
        Fixed,
        /// <summary>The SPTE already allowed the access.</summary>
        Spurious,
        /// <summary>Not a fast-path case (missing SPTE, write not allowed, persistent contention): take the slow path.</summary>
        FallBack,
    }

    /// <summary>
    /// Tries to fix a fault of kind <paramref name="access"/> on entry <paramref name="index"/> of
    /// <paramref name="table"/> without mmu_lock. <paramref name="spte"/> is the SPTE installed (or found).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Result TryFix(SpteTable table, ulong index, MmuAccess access, out Spte spte)
    {
        ArgumentNullException.ThrowIfNull(table);
        var hooks = table.Hooks;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var old = table.Read(index);
            if (old.Permits(access))
            {
                spte = old;
                return Result.Spurious;
            }
            if (!ComputeFix(old, access, out var fixedSpte))
                break;
            hooks?.At?.Invoke(MmuHookPoint.FastPathBeforeCommit, table.BaseGfn + index);
            if (table.TryReplace(index, old, fixedSpte))
            {
                spte = fixedSpte;
                return Result.Fixed;
            }
        }
        spte = default;
        return Result.FallBack;
    }

    /// <summary>
    /// The fix for <paramref name="old"/> under <paramref name="access"/>, if the fast path may apply it:
    /// restore an access-tracked SPTE (saved R/X, Accessed), and for a write set Writable and Dirty, which
    /// requires Host-writable and MMU-writable. False for a missing SPTE or a write that is not allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ComputeFix(Spte old, MmuAccess access, out Spte fixedSpte)
    {
        fixedSpte = old;
        if (old.IsAccessTracked) fixedSpte = old.RestoreFromAccessTrack();
        else if (!old.IsPresent) return false;
        if (access == MmuAccess.Write)
        {
            if (!fixedSpte.CanFastWrite) return false;
            fixedSpte = fixedSpte.With(SpteFlags.Writable | SpteFlags.Dirty | SpteFlags.Accessed);
        }
        return fixedSpte.Permits(access);
    }
}
