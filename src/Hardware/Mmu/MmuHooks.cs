namespace Actorvisor.Hardware.Mmu;

/// <summary>Where an <see cref="MmuHooks"/> callback runs.</summary>
internal enum MmuHookPoint
{
    /// <summary>Right before an SPTE is read.</summary>
    SpteRead,
    /// <summary>Right before an atomic SPTE update (cmpxchg or xchg) is attempted.</summary>
    SpteUpdate,
    /// <summary>The fast path has read the SPTE and computed the new value; its cmpxchg comes next.</summary>
    FastPathBeforeCommit,
    /// <summary>A write-protect / harvest / clear / age has read the SPTE; its atomic update comes next.</summary>
    ProtectBeforeCommit,
    /// <summary>The slow path, holding no lock, is about to fault the host page in.</summary>
    SlowPathBeforeFaultIn,
    /// <summary>The slow path has faulted the host page in, holding no lock; it takes mmu_lock next.</summary>
    SlowPathAfterFaultIn,
    /// <summary>The slow path holds mmu_lock and is about to install an SPTE.</summary>
    SlowPathBeforeInstall,
    /// <summary>Right before a dirty-bitmap word is read or changed.</summary>
    BitmapAccess,
    /// <summary>A TLB flush request has been published and the requester is about to wait for acknowledgements.</summary>
    FlushRequested,
}

/// <summary>
/// Test seams that force interleavings (deterministic hazard tests) or hand each step to a systematic
/// scheduler (Coyote). Null in production: each site costs one null check.
/// </summary>
internal sealed class MmuHooks
{
    /// <summary>Called at each <see cref="MmuHookPoint"/> with the gfn concerned (or ulong.MaxValue).</summary>
    public Action<MmuHookPoint, ulong>? At;

    /// <summary>
    /// Replaces blocking waits (mmu_lock contention, TLB flush acknowledgements) so that a systematic
    /// scheduler can run another operation instead of the thread blocking outside its control. Called with
    /// a condition that becomes true when the wait can end; returns once it is (or may be) true.
    /// </summary>
    public Action<Func<bool>>? WaitUntil;
}
