using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Actors.AsyncPf;

// Messages inside the async-PF subtree and between it and its VmActor.

/// <summary>
/// The fault reader thread recorded "not present" for fault <paramref name="Token"/> of the vCPU on
/// <paramref name="Page"/>, with <paramref name="Outcome"/> (AlreadyCompleted: its page was ready first).
/// </summary>
internal sealed record VcpuPageFault(ulong Page, long Token, NotPresentOutcome Outcome, bool Retry = false);

/// <summary>
/// vCPU <paramref name="VcpuId"/>'s guest was told "page not present" for <paramref name="Page"/> (its token waits in
/// <see cref="AsyncPfVcpu.GuestTokens"/>): fetch it like a fault, with readahead, without blocking anyone. Sent from the
/// vCPU thread straight to the vCPU's queue, or through the async-PF actor while the queue is not attached yet.
/// </summary>
internal sealed record GuestPageNotPresent(int VcpuId, ulong Page);

/// <summary>Worker <paramref name="WorkId"/> finished fetching <paramref name="Page"/> ("page ready", or why not).</summary>
internal sealed record PageFetched(long WorkId, ulong Page, FetchOutcome Outcome);

/// <summary>The vCPU side consumes its done list (KVM_REQ_APF_READY).</summary>
internal sealed record DrainDone
{
    public static readonly DrainDone Instance = new();
}

/// <summary>kvm_clear_async_pf_completion_queue for one vCPU: cancel, wait for the workers, drain the done list.</summary>
internal sealed record FlushQueue
{
    public static readonly FlushQueue Instance = new();
}

/// <summary>A vCPU's queue is flushed: <paramref name="CancelledWorks"/> works cancelled; nothing of it runs any more.</summary>
internal sealed record QueueFlushed(int VcpuId, int CancelledWorks);

/// <summary>The VmActor's FlushOutstandingWork step for async page faults.</summary>
internal sealed record FlushAsyncPf
{
    public static readonly FlushAsyncPf Instance = new();
}

/// <summary>Every vCPU's queue and any fill are flushed; <paramref name="RunningFetches"/> is 0 unless a store ignored cancellation.</summary>
internal sealed record AsyncPfFlushed(int CancelledWorks, long RunningFetches);

/// <summary>
/// A queue gave up on <paramref name="Page"/>: every read of it failed while vCPU <paramref name="VcpuId"/> waits on
/// it, so the vCPU can never go on. <paramref name="Reason"/> names the page, the store and its error.
/// </summary>
internal sealed record PageUnreadable(int VcpuId, ulong Page, string Reason);

/// <summary>
/// The router to the async-PF actor (from the fault reader thread): a fault it resolved itself (no queue took it: before
/// the actors were attached, or from a thread that is no vCPU's) could not be read; the actor takes the pages with
/// <see cref="AsyncPfRouter.TakeUnreadable"/>.
/// </summary>
internal sealed record UnreadableHereNoticed
{
    public static readonly UnreadableHereNoticed Instance = new();
}

/// <summary>
/// The async-PF actor to its VmActor: the VM's lazy memory failed (<see cref="PageUnreadable"/>); the VM must fail
/// with <paramref name="Reason"/>.
/// </summary>
internal sealed record LazyMemoryFailed(string VmName, string Reason);

/// <summary>
/// The teardown to the async-PF actors, once the vCPUs were told to stop: release every vCPU thread blocked on a
/// page that could not be read (with a zero page: its contents no longer matter), now and for any later failure,
/// so that the thread can leave the guest and stop.
/// </summary>
internal sealed record ReleaseUnreadableFaults
{
    public static readonly ReleaseUnreadableFaults Instance = new();
}
