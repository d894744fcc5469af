namespace Actorvisor.Actors.AsyncPf;

/// <summary>A VM's async page-fault counters, the answer to <see cref="GetAsyncPfCounters"/>.</summary>
/// <param name="VmName">The VM.</param>
/// <param name="Vcpus">Per vCPU, by index.</param>
/// <param name="UnattributedFaults">Faults from threads that are no vCPU's (resolved synchronously on the fault reader thread).</param>
/// <param name="RunningFetches">Page fetches (worker, synchronous or fill) running now; 0 once the VM's work is flushed.</param>
/// <param name="FilledPages">Pages installed by lazy-memory fills.</param>
/// <param name="InstallsAfterUnmap">Installs that reached guest memory after it was unmapped (must stay 0).</param>
public sealed record AsyncPfReport(
    string VmName,
    IReadOnlyList<AsyncPfVcpuCounters> Vcpus,
    long UnattributedFaults,
    long RunningFetches,
    long FilledPages,
    long InstallsAfterUnmap)
{
    /// <summary>Faults of every vCPU.</summary>
    public long Faults => Vcpus.Sum(v => v.Faults);

    /// <summary>Faults handed to workers, every vCPU.</summary>
    public long Async => Vcpus.Sum(v => v.Async);

    /// <summary>Synchronous fallbacks, every vCPU.</summary>
    public long SyncFallbacks => Vcpus.Sum(v => v.SyncFallbacks);

    /// <summary>Worker actors alive now, every vCPU.</summary>
    public int LiveWorkers => Vcpus.Sum(v => v.LiveWorkers);
}
