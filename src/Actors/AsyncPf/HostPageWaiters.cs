using Actorvisor.Hardware.Lazy;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The host-side waiters of an <see cref="AsyncPfQueue"/> (<see cref="AwaitGuestPages"/>): each waits for a range of
/// pages and is released once, when they are all present, by a wakeup-all broadcast, when a page fails, or at the
/// flush. Owned by the queue and used only from its thread.
/// </summary>
internal sealed class HostPageWaiters(AsyncPfVcpu vcpu, string vmName)
{
    private readonly List<HostPageWaiter> _waiters = new();

    /// <summary>A waiter for the pages <paramref name="first"/> up to <paramref name="end"/> (exclusive) of <paramref name="region"/> that are not present yet.</summary>
    public HostPageWaiter Add(AwaitGuestPages request, IActorRef requester, LazyGuestMemory region, ulong first, ulong end)
    {
        var waiter = new HostPageWaiter(request, requester, new HashSet<ulong>());
        for (ulong page = first; page < end; page++)
            if (!region.IsPresent(page)) waiter.Pages.Add(page);
        _waiters.Add(waiter);
        return waiter;
    }

    /// <summary>Whether <paramref name="waiter"/> still waits (it has not been released).</summary>
    public bool IsWaiting(HostPageWaiter waiter) => _waiters.Contains(waiter);

    /// <summary>Releases every waiter whose pages are all present now.</summary>
    public void ReleaseSatisfied(LazyGuestMemory region)
    {
        if (_waiters.Count == 0) return;
        foreach (var waiter in _waiters.ToList())
        {
            waiter.Pages.RemoveWhere(region.IsPresent);
            if (waiter.Pages.Count == 0) Release(waiter, PageWaitRelease.Present);
        }
    }

    /// <summary>Releases every waiter that waits for <paramref name="page"/>.</summary>
    public void ReleaseWaitingOn(ulong page, PageWaitRelease how)
    {
        foreach (var waiter in _waiters.Where(w => w.Pages.Contains(page)).ToList()) Release(waiter, how);
    }

    /// <summary>Releases every waiter.</summary>
    public void ReleaseAll(PageWaitRelease how)
    {
        foreach (var waiter in _waiters.ToList()) Release(waiter, how);
    }

    /// <summary>The answer to <paramref name="request"/>, released <paramref name="how"/>.</summary>
    public GuestPagesReleased Released(AwaitGuestPages request, PageWaitRelease how) =>
        new(vmName, request.VcpuId, request.GuestPhysicalAddress, request.Length, how);

    private void Release(HostPageWaiter waiter, PageWaitRelease how)
    {
        if (!_waiters.Remove(waiter)) return; // each waiter is released once
        vcpu.Counters.HostWakeup();
        waiter.Requester.Tell(Released(waiter.Request, how));
    }
}
