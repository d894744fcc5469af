using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// Wires a software-accelerator vCPU's guest-visible async page faults to the VM's async-PF actors: for each page
/// the guest was told is not present (<see cref="SoftVcpu.AsyncPageFetcher"/>) the token waits in the vCPU's
/// <see cref="AsyncPfVcpu.GuestTokens"/> and the vCPU's queue fetches the page as it does a fault (its workers, its
/// readahead window, its limit: <see cref="GuestPageNotPresent"/>). Whoever installs the page reports the token ready
/// (<see cref="Hardware.AsyncPf.AsyncPfProtocol.PageReady"/>) from its own thread, right after the install. A failed
/// fetch or a wakeup-all reports the token anyway, so the guest retries its access and, if the page is still missing,
/// faults again; a flush (teardown) reports nothing (the vCPU is going away and its protocol is closed).
/// </summary>
/// <remarks>
/// Nothing here waits: the vCPU thread adds the token and sends one message (an earlier version asked the async-PF
/// actor and reported the token when the answer came back, three actor hops and a thread-pool continuation after the
/// install, and started no readahead: every page of a walk was its own "page not present").
/// </remarks>
public static class GuestPageNotPresentFetcher
{
    /// <summary>
    /// Sets the fetcher of <paramref name="vcpu"/> to fetch through <paramref name="router"/>'s queue of that vCPU;
    /// <paramref name="asyncPf"/>, the VM's "async-pf" actor, takes the request while the queue is not attached.
    /// </summary>
    public static void Attach(SoftVcpu vcpu, AsyncPfRouter router, IActorRef asyncPf)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(asyncPf);
        var state = router.Vcpu(vcpu.Id);
        var protocol = vcpu.AsyncPf;
        state.GuestPageReady = protocol.PageReady;
        vcpu.AsyncPageFetcher = (gpa, token) => Fetch(router, state, asyncPf, gpa, token);
    }

    // On the vCPU thread, inside its fault hook: must not block.
    private static void Fetch(AsyncPfRouter router, AsyncPfVcpu vcpu, IActorRef asyncPf, ulong gpa, uint token)
    {
        ulong page = (gpa - router.GuestPhysicalAddress) >> PageSize.Shift;
        vcpu.Counters.GuestFault();
        vcpu.GuestTokens.Add(page, token);
        // Installed since the fault hook looked: the installer may have taken its tokens before this one was added.
        if (router.Region.IsPresent(page))
        {
            vcpu.GuestPageDone(page);
            return;
        }
        var request = new GuestPageNotPresent(vcpu.Id, page);
        if (vcpu.Queue is { } queue) queue.Tell(request);
        else asyncPf.Tell(request);
    }
}
