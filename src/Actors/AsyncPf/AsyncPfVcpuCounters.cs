namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// One vCPU's async page-fault counters at one moment. Every fault the vCPU took ends exactly once, as an
/// early completion, a wakeup or a cancelled wait: <c>Faults == EarlyCompletions + Wakeups + CancelledWaits</c>
/// plus at most one fault still waiting.
/// </summary>
/// <param name="VcpuId">The vCPU.</param>
/// <param name="Faults">Missing-page faults taken by the vCPU's thread.</param>
/// <param name="Async">Faults handed to a new AsyncPfWorker (kvm_setup_async_pf succeeded).</param>
/// <param name="SyncFallbacks">Faults resolved synchronously: the limit was reached, a worker could not be set up, or the machinery was detached.</param>
/// <param name="Joined">Faults on a page a worker of this vCPU (usually a readahead one) was already fetching.</param>
/// <param name="Readahead">Readahead workers started for pages after a fault.</param>
/// <param name="Wakeups">Fault waits ended by a completion: "page ready" of the page, or a wakeup-all broadcast.</param>
/// <param name="EarlyCompletions">Faults whose page was ready before "not present" was recorded (pfault_wait -1).</param>
/// <param name="Cancelled">Works (outstanding or completed but not consumed) cancelled by a flush.</param>
/// <param name="CancelledWaits">Fault waits released by a flush instead of a completion.</param>
/// <param name="Broadcasts">Wakeup-all completions posted (kvm_async_pf_wakeup_all).</param>
/// <param name="BroadcastsCoalesced">Wakeup-all requests not posted because completions were already pending.</param>
/// <param name="HostWakeups">Host-side page waiters released (present, broadcast, cancelled or failed).</param>
/// <param name="Failed">Page reads that failed after every attempt.</param>
/// <param name="GuestFaults">
/// Guest-visible faults: accesses to missing pages the guest was told "page not present" about (software accelerator,
/// protocol enabled), each fetched through this queue (its workers, readahead and limit) while the vCPU ran on. Not in
/// <c>Faults</c>: the vCPU thread never waited on them.
/// </param>
/// <param name="GuestJoined">Guest-visible faults on a page a worker of this vCPU (usually a readahead one) was already fetching.</param>
/// <param name="GuestReady">Guest-visible tokens answered "page ready" (page installed, its fetch failed, or a wakeup-all).</param>
/// <param name="GuestWaitMicroseconds">
/// Summed over the answered guest-visible tokens: microseconds from "page not present" (the vCPU thread handing the
/// page over) to "page ready" (the token answered); divided by <c>GuestReady</c>, the mean round trip.
/// </param>
/// <param name="Outstanding">Outstanding works now (async_pf.queued).</param>
/// <param name="PeakOutstanding">The most outstanding works at once.</param>
/// <param name="LiveWorkers">AsyncPfWorker actors working now (started, not yet reported).</param>
/// <param name="PeakWorkers">The most AsyncPfWorker actors working at once.</param>
public sealed record AsyncPfVcpuCounters(
    int VcpuId,
    long Faults,
    long Async,
    long SyncFallbacks,
    long Joined,
    long Readahead,
    long Wakeups,
    long EarlyCompletions,
    long Cancelled,
    long CancelledWaits,
    long Broadcasts,
    long BroadcastsCoalesced,
    long HostWakeups,
    long Failed,
    long GuestFaults,
    long GuestJoined,
    long GuestReady,
    long GuestWaitMicroseconds,
    int Outstanding,
    int PeakOutstanding,
    int LiveWorkers,
    int PeakWorkers);
