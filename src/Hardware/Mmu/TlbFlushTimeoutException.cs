namespace Actorvisor.Hardware.Mmu;

/// <summary>
/// Some vCPUs did not acknowledge a TLB flush in time. The SPTE change that requested it is done, but the
/// caller must not rely on it: those vCPUs may still use a stale (e.g. writable) translation.
/// </summary>
public sealed class TlbFlushTimeoutException(IReadOnlyList<int> vcpuIds, TimeSpan timeout)
    : TimeoutException($"TLB flush not acknowledged within {timeout.TotalMilliseconds:0} ms by vCPU(s) {string.Join(", ", vcpuIds)}")
{
    /// <summary>The vCPUs that had not acknowledged.</summary>
    public IReadOnlyList<int> VcpuIds { get; } = vcpuIds;
}
