namespace Actorvisor.Hardware.Mmu;

/// <summary>Settings of a <see cref="SoftMmu"/>.</summary>
public sealed record SoftMmuOptions
{
    /// <summary>KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: GetDirtyLog does not reset or protect; ClearDirtyLog does.</summary>
    public bool ManualProtect { get; init; }

    /// <summary>How long a TLB flush waits for every vCPU to acknowledge.</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
