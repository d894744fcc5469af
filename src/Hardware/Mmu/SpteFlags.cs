namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// The flag bits of a <see cref="Spte"/>. The layout follows x86 EPT where EPT has an equivalent
/// (R/W/X in bits 0-2, accessed/dirty in bits 8-9, the frame in bits 12-51) and KVM's software bits where
/// it does not (Host-writable, MMU-writable, the access-track saved R/X bits shifted by 54).
/// </summary>
[Flags]
public enum SpteFlags : ulong
{
    /// <summary>No bit set: the SPTE is empty (never mapped, or zapped).</summary>
    None = 0,

    /// <summary>Bit 0, EPT R: the page is mapped (readable). A present SPTE always has it.</summary>
    Present = 1UL << 0,

    /// <summary>Bit 1, EPT W: guest writes go straight to memory without a fault.</summary>
    Writable = 1UL << 1,

    /// <summary>Bit 2, EPT X: the guest may fetch instructions from the page.</summary>
    Executable = 1UL << 2,

    /// <summary>
    /// Bit 8: the page was mapped by a guest access since it was last aged. Set whenever a fault maps the
    /// page; cleared only by <see cref="SoftMmu.AgePages"/>, which turns the SPTE access-tracked.
    /// </summary>
    Accessed = 1UL << 8,

    /// <summary>
    /// Bit 9: the guest may have written the page since its dirty state was last harvested. Set in the same
    /// atomic update that sets <see cref="Writable"/>, so a writable SPTE is always dirty; whoever clears it
    /// transfers it to the memslot's dirty bitmap (locking.rst: "Dirty bit tracking") and flushes TLBs.
    /// </summary>
    Dirty = 1UL << 9,

    /// <summary>
    /// Bit 10, KVM's Host-writable: the page is writable in the host mapping and its memslot (not a
    /// read-only slot, not write-protected by the host).
    /// </summary>
    HostWritable = 1UL << 10,

    /// <summary>
    /// Bit 11, KVM's MMU-writable: the MMU does not write-track the page. Together with
    /// <see cref="HostWritable"/> this is what allows the fast path to set <see cref="Writable"/> without
    /// mmu_lock (locking.rst: "What we use to avoid all the races").
    /// </summary>
    MmuWritable = 1UL << 11,

    /// <summary>Bit 54: <see cref="Present"/> as it was before the SPTE was made access-tracked.</summary>
    SavedPresent = 1UL << 54,

    /// <summary>Bit 56: <see cref="Executable"/> as it was before the SPTE was made access-tracked.</summary>
    SavedExecutable = 1UL << 56,

    /// <summary>
    /// Bit 62: the SPTE is not present because it is tracked for accesses (locking.rst: "Lockless Access
    /// Tracking"); the next access restores the saved R/X bits on the fast path.
    /// </summary>
    AccessTracked = 1UL << 62,
}
