namespace Actorvisor.Hardware.Mmu;

/// <summary>What a fault on guest page <paramref name="Gfn"/> came to.</summary>
/// <param name="Outcome">How it was resolved.</param>
/// <param name="Gfn">The guest frame that faulted.</param>
/// <param name="Spte">The SPTE after the fault (empty for MMIO).</param>
/// <param name="DeniedBy">For <see cref="FaultOutcome.NotPermitted"/>: who forbids the write.</param>
public readonly record struct FaultResult(FaultOutcome Outcome, ulong Gfn, Spte Spte, WriteProtectReason? DeniedBy = null)
{
    /// <summary>True if the vCPU may retry the access against guest memory now.</summary>
    public bool IsResolved => Outcome is FaultOutcome.FastFixed or FaultOutcome.SlowInstalled or FaultOutcome.Spurious;
}
