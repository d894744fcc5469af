using Actorvisor.Actors.AsyncPf;
using Actorvisor.Hardware.Lazy;
using Akka.TestKit.Xunit2;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>Faults that cannot go to a worker are resolved synchronously; stranded faults and unreadable pages.</summary>
public class FaultRoutingTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
    private const ulong Page = 4096;

    [Fact]
    public async Task A_fault_from_a_thread_that_is_no_vcpu_is_resolved_synchronously_on_the_reader()
    {
        using var rig = new AsyncPfRig(this, new PatternStore(), vcpus: 1, pages: 16, AsyncPfOptions.Default);
        uint seen = 0;
        await NativeTouch.OnThread("not-a-vcpu", () => seen = rig.Touch(6 * Page + 40)).WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(6 * Page + 40), seen);
        var report = rig.Router.Report("rig");
        Assert.Equal(1, report.UnattributedFaults);
        Assert.Equal(0, report.Faults);
        Assert.Equal(0, report.Async);
    }

    [Fact]
    public async Task After_the_flush_a_vcpu_fault_is_resolved_synchronously_on_the_reader()
    {
        using var rig = new AsyncPfRig(this, new PatternStore(), vcpus: 1, pages: 16, AsyncPfOptions.Default);
        rig.Flush();
        uint seen = 0;
        await rig.AsVcpu(0, () => seen = rig.Touch(3 * Page)).WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(3 * Page), seen);
        AwaitCondition(() => rig.Counters(0).Wakeups == 1, Long);
        var c = rig.Counters(0);
        Assert.Equal(1, c.Faults);
        Assert.Equal(1, c.SyncFallbacks);
        Assert.Equal(0, c.Async);
        Assert.Equal(0, c.PeakWorkers);
    }

    [Fact]
    public async Task A_fault_stranded_by_actors_stopped_without_a_flush_is_still_resolved()
    {
        var store = new HeldPagesStore(new PatternStore(), held: page => page == 3);
        using var rig = new AsyncPfRig(this, store, vcpus: 1, pages: 16, new AsyncPfOptions { ReadaheadPages = 0 });
        uint seen = 0;
        var vcpu = rig.AsVcpu(0, () => seen = rig.Touch(3 * Page + 8));
        AwaitCondition(() => rig.Counters(0).LiveWorkers == 1 && store.HeldInFlight == 1, Long);

        // The actors go away (a crash, or their VM actor stopped): the worker's read is cancelled, the fault it
        // served is taken over synchronously, off the actors.
        rig.StopActorsWithoutFlush();
        AwaitCondition(() => rig.Counters(0).SyncFallbacks == 1, Long);
        Assert.False(vcpu.IsCompleted);
        store.Release(3);
        await vcpu.WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(3 * Page + 8), seen);
        Assert.True(rig.Router.WaitForNoFetches(Long));
    }

    [Fact]
    public async Task A_read_that_fails_a_few_times_is_retried_and_the_vcpu_gets_its_page()
    {
        var store = new SlowBackingStore(new PatternStore(), TimeSpan.Zero);
        store.FailPage(5, times: 2);
        using var rig = new AsyncPfRig(this, store, vcpus: 1, pages: 16, AsyncPfOptions.Default);
        uint seen = 0;
        await rig.AsVcpu(0, () => seen = rig.Touch(5 * Page + 16)).WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(5 * Page + 16), seen);
        Assert.Equal(2, store.Failures);
        Assert.Equal(0, rig.Counters(0).Failed);
    }

    [Fact]
    public async Task A_page_that_cannot_be_read_fails_its_host_waiter_and_holds_its_vcpu_until_a_broadcast_makes_it_retry()
    {
        var store = new SlowBackingStore(new PatternStore(), TimeSpan.Zero);
        // Six failures: the worker's three attempts and the synchronous retry's three.
        store.FailPage(9, times: 6);
        using var rig = new AsyncPfRig(this, store, vcpus: 1, pages: 16, new AsyncPfOptions { ReadaheadPages = 0 });
        uint seen = 0;
        var vcpu = rig.AsVcpu(0, () => seen = rig.Touch(9 * Page + 4));
        AwaitCondition(() => rig.Counters(0).Failed == 2, Long);
        Assert.False(vcpu.IsCompleted); // userfaultfd cannot fail one fault: the thread waits

        store.FailPage(11);
        rig.Actor.Tell(new AwaitGuestPages(0, 11 * Page, Page));
        Assert.Equal(PageWaitRelease.Failed, ExpectMsg<GuestPagesReleased>(Long).Release);

        // A wakeup-all makes the vCPU retry its access: it faults again, and page 9 now reads.
        rig.Actor.Tell(new WakeupAllAsyncPf(0));
        ExpectMsg<AsyncPfWakeupAllPosted>(Long);
        await vcpu.WaitAsync(Long);
        Assert.Equal(PatternStore.Expected(9 * Page + 4), seen);
        AwaitCondition(() => rig.Counters(0) is { Faults: 2, Wakeups: 2 }, Long);
        output.WriteLine(rig.Counters(0).ToString());
    }
}
