namespace Actorvisor.Hardware.Mmu;

/// <summary>Why pages are write-protected; decides which bits are cleared and who may make them writable again.</summary>
public enum WriteProtectReason
{
    /// <summary>
    /// Dirty logging: clear W only. Host-writable and MMU-writable stay, so the next guest write is fixed on
    /// the fast path and marks the page dirty.
    /// </summary>
    DirtyLog,
    /// <summary>
    /// The MMU write-tracks the pages (KVM page tracking): clear W and MMU-writable. Guest writes fault to
    /// the slow path and come back <see cref="FaultOutcome.NotPermitted"/> until the pages are unprotected.
    /// </summary>
    WriteTracking,
    /// <summary>
    /// The host write-protects the pages (e.g. copy-on-write for a snapshot): clear W and Host-writable.
    /// Guest writes come back <see cref="FaultOutcome.NotPermitted"/> until the pages are unprotected.
    /// </summary>
    Host,
}
