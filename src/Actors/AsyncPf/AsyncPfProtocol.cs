using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.AsyncPf;

// Requests about a VM's lazy memory, sent to its VmActor, which hands them to its "async-pf" actor. A VM built
// without lazy memory refuses them with VmError.NoLazyMemory; a stopping VM with VmError.NotAccepting.

/// <summary>A request to a VM's async page-fault machinery.</summary>
public interface IAsyncPfRequest : IVmRequest;

/// <summary>Asks for the VM's async page-fault counters. Replies <see cref="AsyncPfReport"/> in every state, also after the VM ended.</summary>
public sealed record GetAsyncPfCounters
{
    /// <summary>The one instance.</summary>
    public static readonly GetAsyncPfCounters Instance = new();
}

/// <summary>
/// kvm_async_pf_wakeup_all for vCPU <paramref name="VcpuId"/>: posts one broadcast completion that, when the vCPU
/// side consumes it, releases every waiter of that vCPU (its blocked fault, which then retries its access, and
/// every <see cref="AwaitGuestPages"/> still waiting), each exactly once. As in async_pf.c it is not posted
/// while completions are already pending (they notify first). Replies <see cref="AsyncPfWakeupAllPosted"/>.
/// </summary>
public sealed record WakeupAllAsyncPf(int VcpuId) : IAsyncPfRequest;

/// <summary>The broadcast was posted, or (<paramref name="Coalesced"/>) not, because completions were pending.</summary>
public sealed record AsyncPfWakeupAllPosted(string VmName, int VcpuId, bool Coalesced);

/// <summary>
/// Host-side access to lazy guest memory: makes the pages of [<paramref name="GuestPhysicalAddress"/>,
/// +<paramref name="Length"/>) present through vCPU <paramref name="VcpuId"/>'s async-PF queue (its workers, its
/// limit) and waits for them. Host code reads lazy memory only after this, never by touching missing pages.
/// Replies one <see cref="GuestPagesReleased"/> when the wait ends, whichever way.
/// </summary>
public sealed record AwaitGuestPages(int VcpuId, ulong GuestPhysicalAddress, ulong Length) : IAsyncPfRequest;

/// <summary>How a page wait ended.</summary>
public enum PageWaitRelease
{
    /// <summary>Every page is present.</summary>
    Present,
    /// <summary>A wakeup-all broadcast released the waiter; some pages may still be missing: ask again.</summary>
    WokenByBroadcast,
    /// <summary>The VM is being torn down; its outstanding work was cancelled.</summary>
    Cancelled,
    /// <summary>A page could not be read from the backing store.</summary>
    Failed,
}

/// <summary>The wait of an <see cref="AwaitGuestPages"/> ended with <paramref name="Release"/>.</summary>
public sealed record GuestPagesReleased(string VmName, int VcpuId, ulong GuestPhysicalAddress, ulong Length, PageWaitRelease Release);

/// <summary>
/// Fills every missing page of the VM's lazy memory from its backing store in the background (one fill worker,
/// page by page with UFFDIO_COPY), e.g. to finish a lazily restored snapshot. Faults meanwhile are served as
/// usual. Replies <see cref="LazyMemoryFilled"/>; a second fill while one runs is refused.
/// </summary>
public sealed record FillLazyMemory : IAsyncPfRequest
{
    /// <summary>The one instance.</summary>
    public static readonly FillLazyMemory Instance = new();
}

/// <summary>
/// A fill ended: <paramref name="Installed"/> pages installed by it, <paramref name="AlreadyPresent"/> found present,
/// in <paramref name="Elapsed"/>; <paramref name="Completed"/> is false if it was cancelled or a read failed (<paramref name="Problem"/>).
/// </summary>
public sealed record LazyMemoryFilled(string VmName, long Installed, long AlreadyPresent, TimeSpan Elapsed, bool Completed, string? Problem = null);
