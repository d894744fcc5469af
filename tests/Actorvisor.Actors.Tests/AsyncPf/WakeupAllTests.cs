using Actorvisor.Actors.AsyncPf;
using Actorvisor.Hardware.Lazy;
using Akka.TestKit.Xunit2;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>kvm_async_pf_wakeup_all: one broadcast completion releases every waiter of the vCPU, each exactly once.</summary>
public class WakeupAllTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60); // failure-only: each wait ends with its event
    private const ulong Page = 4096;

    [Fact]
    public async Task A_broadcast_releases_the_blocked_vcpu_and_every_host_waiter_once_and_their_pages_release_nobody_again()
    {
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        using var rig = new AsyncPfRig(this, store, vcpus: 1, pages: 64, new AsyncPfOptions { ReadaheadPages = 0 });
        uint seen = 0;
        var vcpu = rig.AsVcpu(0, () => seen = rig.Touch(10 * Page + 4));
        AwaitCondition(() => rig.Vcpu(0).Wait.State == PfaultWait.Waiting, Long);

        // Six host waiters: pages 20-24 one each, and pages 30-33 in one request.
        var waiters = CreateTestProbe();
        var requests = Enumerable.Range(20, 5).Select(p => new AwaitGuestPages(0, (ulong)p * Page, Page))
            .Append(new AwaitGuestPages(0, 30 * Page, 4 * Page)).ToList();
        foreach (var r in requests) rig.Actor.Tell(r, waiters.Ref);
        AwaitCondition(() => store.HeldInFlight == 1 + 5 + 4, Long);

        rig.Actor.Tell(new WakeupAllAsyncPf(0), TestActor);
        Assert.False(ExpectMsg<AsyncPfWakeupAllPosted>(Long).Coalesced);

        var released = Enumerable.Range(0, requests.Count).Select(_ => waiters.ExpectMsg<GuestPagesReleased>(Long)).ToList();
        Assert.All(released, r => Assert.Equal(PageWaitRelease.WokenByBroadcast, r.Release));
        Assert.Equal(requests.Select(r => r.GuestPhysicalAddress).Order(), released.Select(r => r.GuestPhysicalAddress).Order());
        // The vCPU thread was woken to retry its access; its page is still missing, so it faulted again.
        AwaitCondition(() => rig.Counters(0) is { Faults: 2, Wakeups: 1 } && rig.Vcpu(0).Wait.State == PfaultWait.Waiting, Long);
        Assert.False(vcpu.IsCompleted);

        store.Release();
        await vcpu.WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(10 * Page + 4), seen);
        // The pages arriving now release nobody a second time.
        AwaitCondition(() => rig.Router.RunningFetches == 0 && rig.Counters(0).Wakeups == 2, Long);
        ExpectNothingBeforeTheMarker(rig, waiters, firstPage: 20, pages: 5);
        var c = rig.Counters(0);
        output.WriteLine(c.ToString());
        Assert.Equal(1, c.Broadcasts);
        Assert.Equal(requests.Count + 1, c.HostWakeups); // the six waiters and the marker
        Assert.Equal(c.Faults, c.Wakeups + c.EarlyCompletions);
    }

    [Fact]
    public void Waiters_released_by_their_page_before_the_broadcast_are_not_released_again_by_it()
    {
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        using var rig = new AsyncPfRig(this, store, vcpus: 1, pages: 64, new AsyncPfOptions { ReadaheadPages = 0 });
        var waiters = CreateTestProbe();
        for (ulong p = 40; p < 44; p++) rig.Actor.Tell(new AwaitGuestPages(0, p * Page, Page), waiters.Ref);
        AwaitCondition(() => store.HeldInFlight == 4, Long);

        store.Release(40);
        store.Release(41);
        var first = new[] { waiters.ExpectMsg<GuestPagesReleased>(Long), waiters.ExpectMsg<GuestPagesReleased>(Long) };
        Assert.All(first, r => Assert.Equal(PageWaitRelease.Present, r.Release));
        Assert.Equal([40 * Page, 41 * Page], first.Select(r => r.GuestPhysicalAddress).Order());

        rig.Actor.Tell(new WakeupAllAsyncPf(0), TestActor);
        Assert.False(ExpectMsg<AsyncPfWakeupAllPosted>(Long).Coalesced);
        var rest = new[] { waiters.ExpectMsg<GuestPagesReleased>(Long), waiters.ExpectMsg<GuestPagesReleased>(Long) };
        Assert.All(rest, r => Assert.Equal(PageWaitRelease.WokenByBroadcast, r.Release));
        Assert.Equal([42 * Page, 43 * Page], rest.Select(r => r.GuestPhysicalAddress).Order());

        store.Release();
        ExpectNothingBeforeTheMarker(rig, waiters, firstPage: 40, pages: 4);
        Assert.Equal(4 + 1, rig.Counters(0).HostWakeups); // the four waiters and the marker
    }

    // Event-driven "no second release": once every page has arrived and the queue has drained (Outstanding 0), a
    // marker wait for those pages (already present, so released at once) goes behind any release the arrivals
    // caused; the first message after that must be the marker's own release. Its length (several pages) tells
    // it apart from a waiter's.
    private void ExpectNothingBeforeTheMarker(AsyncPfRig rig, Akka.TestKit.TestProbe waiters, ulong firstPage, ulong pages)
    {
        AwaitCondition(() => Enumerable.Range((int)firstPage, (int)pages).All(p => rig.Lazy.IsPresent((ulong)p))
            && rig.Router.RunningFetches == 0 && rig.Counters(0).Outstanding == 0, Long);
        rig.Actor.Tell(new AwaitGuestPages(0, firstPage * Page, pages * Page), waiters.Ref);
        var first = waiters.ExpectMsg<GuestPagesReleased>(Long);
        Assert.Equal((firstPage * Page, pages * Page, PageWaitRelease.Present), (first.GuestPhysicalAddress, first.Length, first.Release));
    }

    [Fact]
    public void A_host_waiter_on_present_pages_is_released_at_once_and_one_on_missing_pages_once_they_arrive()
    {
        using var rig = new AsyncPfRig(this, new PatternStore(), vcpus: 1, pages: 64, AsyncPfOptions.Default);
        rig.Actor.Tell(new AwaitGuestPages(0, 8 * Page, 3 * Page + 1)); // pages 8-11
        var released = ExpectMsg<GuestPagesReleased>(Long);
        Assert.Equal(PageWaitRelease.Present, released.Release);
        for (ulong p = 8; p < 12; p++) Assert.True(rig.Lazy.IsPresent(p));
        // Host code may read them now.
        Assert.Equal(PatternStore.Expected(9 * Page + 8), rig.Lazy.Memory.Read<uint>(9 * Page + 8));

        rig.Actor.Tell(new AwaitGuestPages(0, 8 * Page, Page));
        Assert.Equal(PageWaitRelease.Present, ExpectMsg<GuestPagesReleased>(Long).Release);
        rig.Actor.Tell(new AwaitGuestPages(0, 63 * Page, 2 * Page));
        Assert.IsType<Actorvisor.Actors.Vm.VmRequestFailed>(ExpectMsg<object>(Long));
    }
}
