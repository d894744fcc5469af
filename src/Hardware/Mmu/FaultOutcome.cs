namespace Actorvisor.Hardware.Mmu;

/// <summary>How <see cref="SoftMmu.Fault"/> resolved a guest access that the vCPU's mapping did not allow.</summary>
public enum FaultOutcome
{
    /// <summary>Fixed on the fast path: one cmpxchg, no mmu_lock (write-protection or access-tracked SPTE).</summary>
    FastFixed,
    /// <summary>Resolved on the slow path under mmu_lock (the SPTE was missing, or the fast path gave up).</summary>
    SlowInstalled,
    /// <summary>The SPTE already allowed the access (another vCPU fixed it first): retry the access.</summary>
    Spurious,
    /// <summary>No RAM behind the address, or a write to a read-only memslot: exit to the device bus.</summary>
    Mmio,
    /// <summary>
    /// A write the host or the MMU does not allow (Host-writable or MMU-writable clear, see
    /// <see cref="FaultResult.DeniedBy"/>): exit to the VMM, like KVM_EXIT_MEMORY_FAULT.
    /// </summary>
    NotPermitted,
}
