using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// The software accelerator's second-stage MMU for one VM (locking.rst section 2 as a whole): one
/// <see cref="SpteTable"/> per memslot, mmu_lock, the cmpxchg fast page fault path, remote TLB flushes,
/// dirty logging and lockless access tracking.
/// <para>
/// Rules it keeps (each is a test in tests/Actorvisor.Hardware.Tests/Mmu):
/// <list type="bullet">
/// <item>SPTEs change only by cmpxchg/xchg, so no Accessed or Dirty bit set concurrently is lost
/// (locking.rst "Dirty bit tracking").</item>
/// <item>Writable is only ever set together with Dirty. Whoever clears Dirty (harvest, write-protect, clear,
/// zap) moves it to the slot's dirty bitmap when the slot logs, and flushes TLBs before returning: Dirty is
/// the token that says "some vCPU may hold a writable translation".</item>
/// <item>Every operation that can turn a writable SPTE read-only or zap one holds the mmu_lock write side and
/// flushes TLBs before releasing it, so no other operation can observe the read-only SPTE while a stale
/// writable translation survives (locking.rst "flush tlbs due to spte updated"). Aging is lockless and
/// leaves Dirty set, so a later harvest still flushes.</item>
/// <item>The fast path only makes SPTEs more permissive and never takes mmu_lock; faults that must install
/// take the read side, but only after they faulted the host page in with no lock held (a lazy page may wait for
/// a slow backing store, and a zap, write-protect, harvest or memslot change must not wait behind it).</item>
/// <item>An installed SPTE always comes from a host lookup that started after the last invalidation of its gfn
/// (KVM's mmu_invalidate_seq / mmu_invalidate_in_progress): the slow path reads <see cref="InvalidateSequence"/>
/// before it faults the page in and retries, counted in <see cref="MmuCounters.FaultRetries"/>, if an
/// invalidation ran or is running over the gfn by the time it holds the lock.</item>
/// </list>
/// </para>
/// </summary>
public sealed class SoftMmu : IDirtyLog, IDisposable
{
    private readonly MmuHooks? _hooks;
    private volatile MmuView _view = MmuView.Empty;
    private long _mmio, _notPermitted, _zapped, _harvests, _aged, _wholeSlots, _faultRetries;
    // mmu_invalidate_seq: bumped when an invalidation ends. The rest changes under the write side only
    // (mmu_invalidate_in_progress and the union of the gfn ranges in progress).
    private long _invalidateSeq;
    private int _invalidateInProgress;
    private ulong _invalidateFirst = ulong.MaxValue, _invalidateEnd;
    // Test-only: the slow path installs without checking for invalidations (negative control of the retry tests).
    private volatile bool _retryCheckDisabledForTest;
    // Bumped by concurrent vCPUs on every fault: per thread, so that counting adds no atomic instruction and no
    // shared cache line to the fast path.
    private readonly Dictionary<int, FaultCounts> _faultCounts = [];

    /// <summary>An MMU with no memslots.</summary>
    public SoftMmu(SoftMmuOptions? options = null) : this(options, null) { }

    internal SoftMmu(SoftMmuOptions? options, MmuHooks? hooks)
    {
        options ??= new SoftMmuOptions();
        _hooks = hooks;
        ManualProtect = options.ManualProtect;
        Lock = new MmuLock(hooks);
        Tlb = new TlbFlushCoordinator(options.FlushTimeout, hooks);
        Metrics.HardwareMeter.Register(this);
    }

    /// <summary>mmu_lock.</summary>
    public MmuLock Lock { get; }

    /// <summary>The VM's TLB flush coordinator; vCPUs register with it.</summary>
    public TlbFlushCoordinator Tlb { get; }

    /// <inheritdoc />
    public bool ManualProtect { get; }

    /// <summary>The memslots the MMU maps now.</summary>
    public MemslotSet Memslots => _view.Memslots;

    /// <summary>The SPTE tables, sorted by guest address.</summary>
    public IReadOnlyList<SpteTable> Tables => _view.Tables;

    /// <summary>The event counters so far.</summary>
    public MmuCounters Counters
    {
        get
        {
            var (fast, slow, spurious) = FaultCounts.Sum(_faultCounts);
            return new(fast, slow, spurious,
        Volatile.Read(ref _mmio), Volatile.Read(ref _notPermitted), Tlb.FlushCount,
                Volatile.Read(ref _zapped), Volatile.Read(ref _harvests), Volatile.Read(ref _aged), Volatile.Read(ref _wholeSlots),
                Volatile.Read(ref _faultRetries));
        }
    }

    private FaultCounts MyCounts => FaultCounts.For(_faultCounts);

    /// <summary>The table of slot <paramref name="slotId"/>, or null.</summary>
    public SpteTable? TableOf(uint slotId) => _view.ById(slotId);

    /// <summary>Lockless lookup of the table and index mapping <paramref name="gpa"/>; false if no slot covers it.</summary>
    public bool TryLookup(ulong gpa, out SpteTable table, out ulong index)
    {
        ulong gfn = gpa >> PageSize.Shift;
        var t = _view.Find(gfn);
        if (t is null)
        {
            table = null!;
            index = 0;
            return false;
        }
        table = t;
        index = gfn - t.BaseGfn;
        return true;
    }

    /// <summary>
    /// The page walk a vCPU does on a TLB miss, in guest mode and without a lock: true with the SPTE of
    /// <paramref name="gpa"/> if it allows <paramref name="access"/> (map <see cref="Spte.HostAddress"/>,
    /// writable only if <see cref="Spte.IsWritable"/>); false means fault with <see cref="Fault"/>. A translation
    /// filled from it stays valid until the next TLB flush this vCPU applies.
    /// </summary>
    public bool TryWalk(ulong gpa, MmuAccess access, out Spte spte)
    {
        spte = TryLookup(gpa, out var table, out var index) ? table.Read(index) : Spte.Empty;
        return spte.Permits(access);
    }

    /// <summary>
    /// True if <paramref name="gpa"/> is RAM whose host page is populated now, so that touching it (or faulting it in
    /// on the slow path) cannot wait for a backing store; false for a missing lazy page or an address no memslot
    /// covers. Lockless and non-blocking, callable in guest mode: what a fault hook asks to choose between telling
    /// the guest "page not present" (async page fault) and resolving the fault synchronously.
    /// </summary>
    public bool IsPopulated(ulong gpa) => TryLookup(gpa, out var table, out _) && table.Slot.IsPopulated(gpa);

    /// <summary>The SPTE mapping <paramref name="gpa"/> now (empty if none).</summary>
    public Spte ReadSpte(ulong gpa) => TryLookup(gpa, out var t, out var i) ? t.Read(i) : Spte.Empty;

    /// <summary>
    /// Makes the MMU map <paramref name="memslots"/> (called by the VM after every memslot change). Under the
    /// mmu_lock write side: slots whose guest base, size, host address or read-only flag changed, and deleted
    /// slots, are zapped and their tables retired (which is what fixes every direct SPTE's gfn->pfn mapping
    /// for the life of its table); new slots get empty tables; a slot whose only change is the log-dirty
    /// flag keeps its table and starts or stops logging (starting write-protects the whole slot). TLBs are
    /// flushed before the lock is released, so when this returns no vCPU can reach a removed slot's memory.
    /// </summary>
    public void SetMemslots(MemslotSet memslots)
    {
        ArgumentNullException.ThrowIfNull(memslots);
        using var scope = Lock.EnterWrite();
        var old = _view;
        var tables = new List<SpteTable>(memslots.Count);
        bool flush = false;
        foreach (var slot in memslots.Slots)
        {
            var existing = old.ById(slot.Slot);
            if (existing is not null && SameMapping(existing.Slot, slot))
            {
                if (slot.LogsDirtyPages && existing.DirtyLog is null) flush |= StartDirtyLog(existing);
                else if (!slot.LogsDirtyPages) existing.SetDirtyLog(null);
                existing.UpdateSlot(slot);
                tables.Add(existing);
            }
            else
            {
                var table = new SpteTable(slot, _hooks);
                if (slot.LogsDirtyPages) table.SetDirtyLog(new DirtyBitmap(slot.Pages));
                tables.Add(table);
            }
        }
        _view = new MmuView(memslots, [.. tables]);
        foreach (var gone in old.Tables.Where(t => !tables.Contains(t)))
        {
            flush |= ZapEntries(gone, 0, gone.Pages);
            gone.Retire();
        }
        // A complete invalidation: a fault that looked a page up through the old set retries under the new one.
        Interlocked.Increment(ref _invalidateSeq);
        if (flush) Tlb.FlushAll();
    }

    private static bool SameMapping(Memslot a, Memslot b) =>
        a.GuestPhysAddr == b.GuestPhysAddr && a.Size == b.Size && a.HostAddress == b.HostAddress && a.IsReadOnly == b.IsReadOnly;

    /// <summary>
    /// Resolves a guest access of kind <paramref name="access"/> to <paramref name="gpa"/> that the vCPU's
    /// mapping did not allow: first the lockless fast path, then the slow path, which faults the host page in with
    /// no lock held (it may block on lazy memory) and installs under the mmu_lock read side, retrying if an
    /// invalidation ran meanwhile. Call it outside guest mode (see <see cref="TlbFlushParticipant.ExitGuest"/>),
    /// holding no MMU lock, and keep the memslot set it may fault under mapped until it returns (a vCPU does:
    /// a memslot change waits until the vCPU left its old engine).
    /// </summary>
    public FaultResult Fault(ulong gpa, MmuAccess access)
    {
        ulong gfn = gpa >> PageSize.Shift;
        var table = _view.Find(gfn);
        if (table is null || (access == MmuAccess.Write && table.IsReadOnly))
        {
            Interlocked.Increment(ref _mmio);
            return new FaultResult(FaultOutcome.Mmio, gfn, Spte.Empty);
        }
        switch (FastPageFault.TryFix(table, gfn - table.BaseGfn, access, out var spte))
        {
            case FastPageFault.Result.Fixed:
                MyCounts.FastFixes++;
                return new FaultResult(FaultOutcome.FastFixed, gfn, spte);
            case FastPageFault.Result.Spurious:
                MyCounts.Spurious++;
                return new FaultResult(FaultOutcome.Spurious, gfn, spte);
        }
        return SlowFault(gfn, access);
    }

    /// <summary>
    /// The fast path alone on entry <paramref name="index"/> of <paramref name="table"/> (no mmu_lock, callable in
    /// guest mode), counted like <see cref="Fault"/> counts it: for a vCPU that found the table through its own
    /// mapping. On <see cref="FastPageFault.Result.FallBack"/> leave guest mode and call <see cref="Fault"/>.
    /// </summary>
    public FastPageFault.Result FastFault(SpteTable table, ulong index, MmuAccess access, out Spte spte)
    {
        var result = FastPageFault.TryFix(table, index, access, out spte);
        if (result == FastPageFault.Result.Fixed) MyCounts.FastFixes++;
        else if (result == FastPageFault.Result.Spurious) MyCounts.Spurious++;
        return result;
    }

    /// <summary>
    /// The slow path alone, as <see cref="Fault"/> takes it when the fast path cannot fix a fault: mmu_lock read
    /// side, memslot lookup, host page lookup, install with cmpxchg. For benchmarks and tests that compare the
    /// two paths on the same kind of fault; vCPUs call <see cref="Fault"/>.
    /// </summary>
    public FaultResult FaultSlowPath(ulong gpa, MmuAccess access) => SlowFault(gpa >> PageSize.Shift, access);

    private FaultResult SlowFault(ulong gfn, MmuAccess access)
    {
        MyCounts.SlowFaults++;
        // The host page is faulted in below with no lock held, and that may wait for a slow backing store.
        MmuLock.AssertNotHeld("fault a guest page's host page in");
        var spin = new SpinWait();
        while (true)
        {
            // kvm_faultin_pfn: the sequence number first, then the lookup. Volatile: the lookup below cannot move
            // before this read, so an invalidation that ends after it is seen under the lock as a changed number.
            long seq = Volatile.Read(ref _invalidateSeq);
            if (InvalidationCovers(gfn))
            {
                // Lockless early check (mmu_invalidate_retry_gfn_unsafe): the page may be going away; do not
                // fault it in until the invalidation has ended.
                WaitForInvalidation(gfn, ref spin);
                continue;
            }
            var table = _view.Find(gfn);
            if (table is null || (access == MmuAccess.Write && table.IsReadOnly))
            {
                Interlocked.Increment(ref _mmio);
                return new FaultResult(FaultOutcome.Mmio, gfn, Spte.Empty);
            }
            // gfn -> hva -> pfn, faulting the host page in (KVM's __kvm_faultin_pfn) before taking mmu_lock. The
            // memory stays mapped because the caller keeps the memslot set it faults under alive (a vCPU does: a
            // memslot change waits until it left its old engine, the SRCU grace period of KVM).
            _hooks?.At?.Invoke(MmuHookPoint.SlowPathBeforeFaultIn, gfn);
            ulong pfn = FaultInHostPage(table, gfn);
            _hooks?.At?.Invoke(MmuHookPoint.SlowPathAfterFaultIn, gfn);
            using var scope = Lock.EnterRead();
            // is_page_fault_stale: an invalidation that ran since the lookup (or still runs over this gfn) may
            // have taken the page away again. A memslot change is one too (it bumps the number before it
            // releases the write side), so a table it retired is caught here; IsRetired only makes that explicit.
            if (IsStale(seq, gfn) || table.IsRetired)
            {
                Interlocked.Increment(ref _faultRetries);
                continue;
            }
            return InstallUnderReadLock(table, gfn, pfn, access);
        }
    }

    private FaultResult InstallUnderReadLock(SpteTable table, ulong gfn, ulong pfn, MmuAccess access)
    {
        ulong index = gfn - table.BaseGfn;
        if (access == MmuAccess.Write)
        {
            WriteProtectReason? denied = table.IsHostWriteProtected(index) ? WriteProtectReason.Host
                : table.IsWriteTracked(index) ? WriteProtectReason.WriteTracking : null;
            if (denied is not null)
            {
                Interlocked.Increment(ref _notPermitted);
                return new FaultResult(FaultOutcome.NotPermitted, gfn, table.Read(index), denied);
            }
        }
        _hooks?.At?.Invoke(MmuHookPoint.SlowPathBeforeInstall, gfn);
        var spin = new SpinWait();
        while (true)
        {
            // Fast-path fixes, aging and dirty-log reads still run concurrently (they take no lock or the
            // read side): install with cmpxchg against what was read, like the TDP MMU under the read lock.
            var old = table.Read(index);
            if (old.Permits(access))
            {
                MyCounts.Spurious++;
                return new FaultResult(FaultOutcome.Spurious, gfn, old);
            }
            if (old.IsEmpty || !FastPageFault.ComputeFix(old, access, out var desired))
                desired = NewSpte(table, index, pfn, access, keepDirty: old.IsDirty);
            if (table.TryReplace(index, old, desired))
                return new FaultResult(FaultOutcome.SlowInstalled, gfn, desired);
            spin.SpinOnce();
        }
    }

    /// <summary>
    /// mmu_invalidate_seq: how many invalidations (zaps, memslot changes, <see cref="InvalidateRangeEnd"/>) have
    /// ended. A slow-path fault reads it before it looks the host page up and retries if it changed by the time
    /// the fault holds mmu_lock.
    /// </summary>
    public long InvalidateSequence => Volatile.Read(ref _invalidateSeq);

    /// <summary>Invalidations begun with <see cref="InvalidateRangeStart"/> and not yet ended (mmu_invalidate_in_progress).</summary>
    public int InvalidationsInProgress => Volatile.Read(ref _invalidateInProgress);

    /// <summary>
    /// Negative control for tests only: from now on the slow path installs whatever it looked up, without checking
    /// whether an invalidation ran meanwhile, so a test can show that its retry assertions fail without the check.
    /// </summary>
    internal void DisableInvalidationRetryForTest() => _retryCheckDisabledForTest = true;

    /// <summary>
    /// The start of an invalidation that spans more than one mmu_lock hold (KVM's mmu notifier
    /// invalidate_range_start): under the write side, marks <paramref name="range"/> as being invalidated and
    /// zaps its SPTEs, then flushes TLBs. Until the matching <see cref="InvalidateRangeEnd"/>, no fault installs
    /// an SPTE in the range (faults wait and retry), so the caller may take the host pages away meanwhile (discard,
    /// remap) without a fault resurrecting a translation it looked up before.
    /// </summary>
    public void InvalidateRangeStart(GfnRange range)
    {
        using var scope = Lock.EnterWrite();
        Volatile.Write(ref _invalidateInProgress, _invalidateInProgress + 1);
        Volatile.Write(ref _invalidateFirst, Math.Min(_invalidateFirst, range.First));
        Volatile.Write(ref _invalidateEnd, Math.Max(_invalidateEnd, SaturatedEnd(range)));
        bool flush = false;
        foreach (var (table, first, count) in Overlapping(range))
            flush |= ZapEntries(table, first, count);
        if (flush) Tlb.FlushAll();
    }

    /// <summary>
    /// The end of an invalidation begun with <see cref="InvalidateRangeStart"/> (invalidate_range_end): bumps
    /// <see cref="InvalidateSequence"/> and then drops the in-progress count, so a fault that looked up a page
    /// before the end retries.
    /// </summary>
    /// <exception cref="InvalidOperationException">no invalidation is in progress.</exception>
    public void InvalidateRangeEnd(GfnRange range)
    {
        using var scope = Lock.EnterWrite();
        if (_invalidateInProgress == 0) throw new InvalidOperationException($"InvalidateRangeEnd({range}) without a matching InvalidateRangeStart");
        // The number first, then the count (kvm_mmu_invalidate_end): a lockless reader that sees the count drop sees the new number.
        Interlocked.Increment(ref _invalidateSeq);
        Volatile.Write(ref _invalidateInProgress, _invalidateInProgress - 1);
        if (_invalidateInProgress == 0)
        {
            Volatile.Write(ref _invalidateFirst, ulong.MaxValue);
            Volatile.Write(ref _invalidateEnd, 0UL);
        }
    }

    private static ulong SaturatedEnd(GfnRange range) => range.First + Math.Min(range.Count, ulong.MaxValue - range.First);

    // Exact under mmu_lock; a hint without it (the early check), which the check under the lock makes safe.
    private bool InvalidationCovers(ulong gfn) =>
        Volatile.Read(ref _invalidateInProgress) > 0 && gfn >= Volatile.Read(ref _invalidateFirst) && gfn < Volatile.Read(ref _invalidateEnd);

    private bool IsStale(long seq, ulong gfn) =>
        !_retryCheckDisabledForTest && (InvalidationCovers(gfn) || Volatile.Read(ref _invalidateSeq) != seq);

    private void WaitForInvalidation(ulong gfn, ref SpinWait spin)
    {
        if (_hooks?.WaitUntil is { } wait) wait(() => !InvalidationCovers(gfn));
        else spin.SpinOnce();
    }

    /// <summary>
    /// A fresh SPTE for page <paramref name="index"/> (caller holds mmu_lock). Writable only for a write
    /// access, or up front when the slot does not log dirty pages (KVM maps writable then too); Writable always
    /// comes with Dirty.
    /// </summary>
    private static Spte NewSpte(SpteTable table, ulong index, ulong pfn, MmuAccess access, bool keepDirty)
    {
        var flags = SpteFlags.Present | SpteFlags.Executable | SpteFlags.Accessed;
        bool hostWritable = !table.Slot.IsReadOnly && !table.IsHostWriteProtected(index);
        bool mmuWritable = !table.IsWriteTracked(index);
        if (hostWritable) flags |= SpteFlags.HostWritable;
        if (mmuWritable) flags |= SpteFlags.MmuWritable;
        if (hostWritable && mmuWritable && (access == MmuAccess.Write || table.DirtyLog is null))
            flags |= SpteFlags.Writable | SpteFlags.Dirty;
        if (keepDirty) flags |= SpteFlags.Dirty;
        return Spte.Make(pfn, flags);
    }

    /// <summary>
    /// The host page behind <paramref name="gfn"/>, looked up through the memslot and touched so that the host has
    /// it mapped (KVM's gfn -> hva -> pfn with get_user_pages on the slow path; a lazily populated page is
    /// faulted in here, not by the guest access that follows). Called with no lock held: it may block. The frame always equals
    /// <see cref="SpteTable.PfnOf"/>: that a table's frames never change is what the fast path's ABA safety rests
    /// on, so a mismatch is a broken invariant, not a guest error.
    /// </summary>
    private static unsafe ulong FaultInHostPage(SpteTable table, ulong gfn)
    {
        nint hva = table.Slot.HostAddressOf(gfn << PageSize.Shift);
        // In native code: a lazy page's fault may wait for the fault reader, which a GC must not wait for (see GuestMemoryAccess).
        GuestMemoryAccess.Prefault(hva);
        ulong pfn = (ulong)hva >> PageSize.Shift, index = gfn - table.BaseGfn;
        if (pfn != table.PfnOf(index))
            throw new InvalidOperationException($"memslot {table.Slot.Slot} maps gfn 0x{gfn:x} to host frame 0x{pfn:x}, but its SPTE table to 0x{table.PfnOf(index):x}");
        return pfn;
    }

    /// <summary>
    /// A huge-page fault: under the read side, makes every SPTE of <paramref name="slot"/> allow the slot's full
    /// access (read and execute, and write unless the slot is read-only), the way KVM maps a whole huge page in
    /// one fault while a memslot does not log dirty pages. A vCPU that gets true may map the whole slot into its
    /// emulator at once, and keep that mapping until the table's <see cref="SpteTable.PermissionEpoch"/> differs
    /// from <paramref name="epoch"/> (it checks at every TLB flush it applies). Call it outside guest mode.
    /// </summary>
    /// <returns>
    /// False, leaving SPTEs it already installed in place, if the slot logs dirty pages (they need page
    /// granularity), if <paramref name="slot"/> is not the memslot the MMU maps now, if some page may not get
    /// the access (host write protection, write tracking), or if an invalidation of some of its pages is in progress.
    /// </returns>
    public bool TryInstallWholeSlot(Memslot slot, out long epoch)
    {
        ArgumentNullException.ThrowIfNull(slot);
        epoch = 0;
        using var scope = Lock.EnterRead();
        var table = _view.ById(slot.Slot);
        if (table is null || !SameMapping(table.Slot, slot) || table.Slot.LogsDirtyPages || table.DirtyLog is not null) return false;
        // Pages of the slot may be going away (InvalidateRangeStart): nothing installs there until the invalidation ends.
        if (_invalidateInProgress > 0 && _invalidateFirst < table.BaseGfn + table.Pages && table.BaseGfn < _invalidateEnd) return false;
        // Read before the first SPTE: a downgrade that this loop misses bumps the epoch after it (see PermissionEpoch).
        epoch = table.PermissionEpoch;
        var access = table.Slot.IsReadOnly ? MmuAccess.Read : MmuAccess.Write;
        for (ulong i = 0; i < table.Pages; i++)
        {
            while (true)
            {
                var old = table.Read(i);
                if (old.Permits(access) && old.IsExecutable) break;
                if (old.IsEmpty || !FastPageFault.ComputeFix(old, access, out var desired))
                    desired = NewSpte(table, i, table.PfnOf(i), access, keepDirty: old.IsDirty);
                if (!desired.Permits(access)) return false;
                if (table.TryReplace(i, old, desired)) break;
            }
        }
        Interlocked.Increment(ref _wholeSlots);
        return true;
    }

    /// <summary>Zaps the SPTEs of <paramref name="range"/> (under the write side) and flushes TLBs. Dirty bits go to the dirty bitmaps.</summary>
    public void Zap(GfnRange range)
    {
        using var scope = Lock.EnterWrite();
        bool flush = false;
        foreach (var (table, first, count) in Overlapping(range))
            flush |= ZapEntries(table, first, count);
        // A complete invalidation under one hold of the write side: no in-progress window, just a new number.
        Interlocked.Increment(ref _invalidateSeq);
        if (flush) Tlb.FlushAll();
    }

    private bool ZapEntries(SpteTable table, ulong first, ulong count)
    {
        bool any = false;
        var log = table.DirtyLog;
        for (ulong i = first; i < first + count; i++)
        {
            if (table.Read(i).IsEmpty) continue;
            // xchg, not a plain store: a fast-path fix between our read and the store would otherwise lose
            // its Dirty bit (locking.rst "Dirty bit tracking", mmu_spte_clear_track_bits).
            var old = table.Exchange(i, Spte.Empty);
            if (old.IsEmpty) continue;
            any = true;
            Interlocked.Increment(ref _zapped);
            if (old.IsDirty) log?.Set(i);
        }
        if (any) table.NoteDowngrade();
        return any;
    }

    /// <summary>
    /// Write-protects <paramref name="range"/> for <paramref name="reason"/> (write side), then flushes TLBs
    /// if any SPTE lost Writable or Dirty. A Dirty bit cleared here goes to the slot's dirty bitmap.
    /// </summary>
    public void WriteProtect(GfnRange range, WriteProtectReason reason)
    {
        var clear = SpteFlags.Writable | reason switch
        {
            WriteProtectReason.DirtyLog => SpteFlags.None,
            WriteProtectReason.WriteTracking => SpteFlags.MmuWritable,
            WriteProtectReason.Host => SpteFlags.HostWritable,
            _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "unknown write-protect reason"),
        };
        using var scope = Lock.EnterWrite();
        bool flush = false;
        foreach (var (table, first, count) in Overlapping(range))
        {
            var log = table.DirtyLog;
            bool lost = false;
            for (ulong i = first; i < first + count; i++)
            {
                if (reason == WriteProtectReason.Host) table.SetHostWriteProtected(i, true);
                if (reason == WriteProtectReason.WriteTracking) table.SetWriteTracked(i, true);
                // With logging on, Dirty moves to the bitmap as it is cleared (and is then no longer needed in
                // the SPTE); without logging it stays, as the only record.
                var extra = log is null ? SpteFlags.None : SpteFlags.Dirty;
                var old = ClearBits(table, i, clear | extra);
                if (old.IsDirty && log is not null) log.Set(i);
                lost |= old.IsWritable;
                flush |= old.IsWritable || (old.IsDirty && log is not null);
            }
            if (lost) table.NoteDowngrade();
        }
        if (flush) Tlb.FlushAll();
    }

    /// <summary>
    /// Lifts a <see cref="WriteProtect"/> of <paramref name="reason"/> from <paramref name="range"/> (write
    /// side). Pages do not become writable here; the next guest write does that (on the fast path).
    /// </summary>
    public void WriteUnprotect(GfnRange range, WriteProtectReason reason)
    {
        if (reason is not (WriteProtectReason.DirtyLog or WriteProtectReason.WriteTracking or WriteProtectReason.Host))
            throw new ArgumentOutOfRangeException(nameof(reason), reason, "unknown write-protect reason");
        using var scope = Lock.EnterWrite();
        foreach (var (table, first, count) in Overlapping(range))
        {
            for (ulong i = first; i < first + count; i++)
            {
                SpteFlags restore;
                if (reason == WriteProtectReason.Host)
                {
                    table.SetHostWriteProtected(i, false);
                    restore = table.Slot.IsReadOnly ? SpteFlags.None : SpteFlags.HostWritable;
                }
                else if (reason == WriteProtectReason.WriteTracking)
                {
                    table.SetWriteTracked(i, false);
                    restore = SpteFlags.MmuWritable;
                }
                else continue;
                SetBits(table, i, restore);
            }
        }
    }

    /// <summary>Atomically clears <paramref name="bits"/> in a non-empty SPTE; returns the SPTE as it was.</summary>
    private static Spte ClearBits(SpteTable table, ulong index, SpteFlags bits)
    {
        while (true)
        {
            var old = table.Read(index);
            var desired = old.Without(bits);
            if (old.IsEmpty || desired == old) return old;
            table.Hooks?.At?.Invoke(MmuHookPoint.ProtectBeforeCommit, table.BaseGfn + index);
            if (table.TryReplace(index, old, desired)) return old;
        }
    }

    private static void SetBits(SpteTable table, ulong index, SpteFlags bits)
    {
        while (true)
        {
            var old = table.Read(index);
            var desired = old.With(bits);
            if (old.IsEmpty || desired == old) return;
            if (table.TryReplace(index, old, desired)) return;
        }
    }

    /// <inheritdoc />
    public DirtyBitmap GetDirtyLog(uint slotId)
    {
        Interlocked.Increment(ref _harvests);
        if (ManualProtect)
        {
            using var read = Lock.EnterRead();
            var (table, log) = LoggingTable(slotId);
            var result = new DirtyBitmap(table.Pages);
            for (int w = 0; w < log.WordCount; w++)
            {
                _hooks?.At?.Invoke(MmuHookPoint.BitmapAccess, table.BaseGfn + (ulong)w * 64);
                ulong mask = log.ReadWord(w);
                ForEachPageOfWord(table, w, i => { if (table.Read(i).IsDirty) mask |= 1UL << (int)(i % 64); });
                result.Words[w] = mask;
            }
            return result;
        }

        using var scope = Lock.EnterWrite();
        {
            var (table, log) = LoggingTable(slotId);
            var result = new DirtyBitmap(table.Pages);
            bool flush = false;
            for (int w = 0; w < log.WordCount; w++)
            {
                _hooks?.At?.Invoke(MmuHookPoint.BitmapAccess, table.BaseGfn + (ulong)w * 64);
                ulong mask = log.ExchangeWord(w, 0);
                ulong first = (ulong)w * 64, end = Math.Min(first + 64, table.Pages);
                for (ulong i = first; i < end; i++)
                {
                    // Re-protect and reset atomically per page: one cmpxchg clears W and D together, and the D
                    // it cleared is what this harvest reports.
                    var old = ClearBits(table, i, SpteFlags.Writable | SpteFlags.Dirty);
                    if (old.IsDirty) mask |= 1UL << (int)(i - first);
                    flush |= old.IsWritable || old.IsDirty;
                }
                result.Words[w] = mask;
            }
            // The caller relies on every returned page being read-only in every vCPU: flush before returning.
            if (flush)
            {
                table.NoteDowngrade();
                Tlb.FlushAll();
            }
            return result;
        }
    }

    /// <inheritdoc />
    public void ClearDirtyLog(uint slotId, ulong firstPage, DirtyBitmap mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (!ManualProtect) throw new InvalidOperationException("ClearDirtyLog needs manual dirty-log protection (SoftMmuOptions.ManualProtect)");
        if (firstPage % 64 != 0) throw new ArgumentException($"firstPage {firstPage} is not a multiple of 64", nameof(firstPage));
        using var scope = Lock.EnterWrite();
        var (table, log) = LoggingTable(slotId);
        if (firstPage > table.Pages || mask.Pages > table.Pages - firstPage)
            throw new ArgumentException($"pages [{firstPage}, {firstPage + mask.Pages}) run past memslot {slotId} of {table.Pages} pages", nameof(mask));
        bool flush = false;
        foreach (var p in mask.SetPages())
        {
            ulong i = firstPage + p;
            _hooks?.At?.Invoke(MmuHookPoint.BitmapAccess, table.BaseGfn + i);
            log.Clear(i);
            var old = ClearBits(table, i, SpteFlags.Writable | SpteFlags.Dirty);
            flush |= old.IsWritable || old.IsDirty;
        }
        if (flush)
        {
            table.NoteDowngrade();
            Tlb.FlushAll();
        }
    }

    private (SpteTable Table, DirtyBitmap Log) LoggingTable(uint slotId)
    {
        var table = _view.ById(slotId) ?? throw new ArgumentException($"memslot {slotId} does not exist", nameof(slotId));
        var log = table.DirtyLog ?? throw new ArgumentException($"memslot {slotId} does not log dirty pages (set MemslotFlags.LogDirtyPages)", nameof(slotId));
        return (table, log);
    }

    private static void ForEachPageOfWord(SpteTable table, int word, Action<ulong> action)
    {
        ulong first = (ulong)word * 64, end = Math.Min(first + 64, table.Pages);
        for (ulong i = first; i < end; i++) action(i);
    }

    /// <summary>Starts logging on a table (write side held): fresh bitmap, every SPTE read-only and clean.</summary>
    private static bool StartDirtyLog(SpteTable table)
    {
        table.SetDirtyLog(new DirtyBitmap(table.Pages));
        bool flush = false;
        for (ulong i = 0; i < table.Pages; i++)
        {
            // Writes before logging started are not reported (KVM: the bitmap starts empty).
            var old = ClearBits(table, i, SpteFlags.Writable | SpteFlags.Dirty);
            flush |= old.IsWritable || old.IsDirty;
        }
        if (flush) table.NoteDowngrade();
        return flush;
    }

    /// <summary>
    /// Records a write to <paramref name="gpa"/> that did not go through an SPTE (a device or the VMM writing
    /// guest memory; KVM's mark_page_dirty). No-op outside RAM or when the slot does not log.
    /// </summary>
    public void MarkPageDirty(ulong gpa)
    {
        if (TryLookup(gpa, out var table, out var index)) table.DirtyLog?.Set(index);
    }

    /// <summary>
    /// Ages <paramref name="range"/> without mmu_lock (locking.rst "Lockless Access Tracking"): each present
    /// SPTE becomes access-tracked (R/X saved, W and Accessed dropped, Dirty kept) with one cmpxchg, and then
    /// TLBs are flushed so the next guest access faults and the fast path restores it. Returns the gfns that
    /// were young (present), ascending; pages already access-tracked were not accessed since the last aging.
    /// </summary>
    public IReadOnlyList<ulong> AgePages(GfnRange range)
    {
        var young = new List<ulong>();
        foreach (var (table, first, count) in Overlapping(range))
        {
            int before = young.Count;
            for (ulong i = first; i < first + count; i++)
            {
                while (true)
                {
                    var old = table.Read(i);
                    if (!old.IsPresent) break;
                    table.Hooks?.At?.Invoke(MmuHookPoint.ProtectBeforeCommit, table.BaseGfn + i);
                    if (table.TryReplace(i, old, old.ToAccessTracked()))
                    {
                        young.Add(table.BaseGfn + i);
                        break;
                    }
                }
            }
            if (young.Count > before) table.NoteDowngrade();
        }
        Interlocked.Add(ref _aged, young.Count);
        // clear_flush_young: without the flush, vCPUs would keep using their translations and the page would
        // look idle although it is in use.
        if (young.Count > 0) Tlb.FlushAll();
        return young;
    }

    private IEnumerable<(SpteTable Table, ulong First, ulong Count)> Overlapping(GfnRange range)
    {
        foreach (var table in _view.Tables)
        {
            ulong start = Math.Max(range.First, table.BaseGfn);
            ulong end = Math.Min(range.First + Math.Min(range.Count, ulong.MaxValue - range.First), table.BaseGfn + table.Pages);
            if (start < end) yield return (table, start - table.BaseGfn, end - start);
        }
    }

    /// <summary>Zaps everything and releases the lock.</summary>
    public void Dispose()
    {
        SetMemslots(MemslotSet.Empty);
        Lock.Dispose();
        Metrics.HardwareMeter.Unregister(this);
    }
}
