namespace Actorvisor.Hardware.Mmu;

/// <summary>A snapshot of a <see cref="SoftMmu"/>'s event counters.</summary>
/// <param name="FastPathFixes">Faults fixed by the lockless cmpxchg fast path.</param>
/// <param name="SlowPathFaults">Faults that took mmu_lock.</param>
/// <param name="SpuriousFaults">Faults whose SPTE already allowed the access.</param>
/// <param name="MmioFaults">Faults on addresses without RAM (or writes to read-only slots).</param>
/// <param name="NotPermittedFaults">Writes refused because the page is host-protected or write-tracked.</param>
/// <param name="TlbFlushes">Remote TLB flushes requested.</param>
/// <param name="ZappedSptes">Present or access-tracked SPTEs zapped.</param>
/// <param name="DirtyLogHarvests">GetDirtyLog calls.</param>
/// <param name="AgedPages">Pages turned access-tracked by AgePages.</param>
/// <param name="WholeSlotInstalls">Huge-page faults that installed a whole memslot (TryInstallWholeSlot).</param>
/// <param name="FaultRetries">Slow-path faults that found, holding mmu_lock, that an invalidation ran (or runs) since they looked the host page up, and looked it up again.</param>
public readonly record struct MmuCounters(
    long FastPathFixes,
    long SlowPathFaults,
    long SpuriousFaults,
    long MmioFaults,
    long NotPermittedFaults,
    long TlbFlushes,
    long ZappedSptes,
    long DirtyLogHarvests,
    long AgedPages,
    long WholeSlotInstalls = 0,
    long FaultRetries = 0);
