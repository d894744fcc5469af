using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Lazy;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// A backing store that stops producing pages: the VM whose vCPU waits on such a page fails with a reason naming
/// the page and the store's error, its teardown runs every step (the blocked thread is released to stop), and a
/// VM on the same node carries on.
/// </summary>
public class StoreFailureTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    [Fact]
    public void A_store_that_starts_failing_fails_its_vm_with_the_store_error_and_the_neighbour_keeps_running()
    {
        var node = StartNode();
        var neighbour = CreateVm(node, "neighbour", GuestLibrary.PortIoLoop(int.MaxValue));
        Start(neighbour);
        // 2 ms per page and 4096 pages in order: the guest is still reading when the store starts failing.
        var store = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromMilliseconds(2));
        var vm = CreateLazyVm(node, "failing", LazyGuests.Toucher(1, 4096, dwordsPerPage: 1), store, 4096);
        Start(vm.Vm);
        AwaitCondition(() => Counters(vm.Vm).Vcpus[0].Faults > 0, Long, TimeSpan.FromMilliseconds(5));

        store.FailEveryRead("the remote store went away");
        var events = EventsUntilEnd(vm.Vm);
        var outcome = Assert.IsType<VmOutcome.Failed>(events.OfType<VmEnded>().Single().Outcome);
        output.WriteLine(outcome.Reason);
        Assert.Contains("could not be read from the backing store 'slow(2 ms) zero'", outcome.Reason);
        Assert.Contains("the remote store went away", outcome.Reason);
        Assert.Equal(Enum.GetValues<TeardownStep>(), events.OfType<VmTeardownStepped>().Select(s => s.Step));
        Assert.False(vm.Done.AllDone.IsSet, "the guest never finished its pages");

        var report = Counters(vm.Vm);
        Assert.True(report.Vcpus[0].Failed > 0, report.Vcpus[0].ToString());
        Assert.Equal(0, report.RunningFetches);
        Assert.Equal(0, report.LiveWorkers);
        Assert.Equal(0, report.InstallsAfterUnmap);
        Assert.True(vm.Lazy.Memory.IsDisposed);

        // The node and the other VM are untouched.
        Assert.Equal(VmState.Running, Ask<VmDescription>(neighbour, GetVmDescription.Instance).State);
        var another = CreateVm(node, "after", GuestLibrary.Hello());
        Start(another);
        Assert.IsType<VmOutcome.Exited>(ExpectEnded(another));
    }

    [Fact]
    public void Stopping_a_vm_whose_vcpu_is_blocked_on_an_unreadable_page_releases_it_and_ends_stopped()
    {
        // Every read fails, each after 1 s, and a fetch tries 3 times: the stop comes while the vCPU's first page is
        // still being fetched (it is sent milliseconds after the fetch starts; the 3 s it has before the failure is
        // known is far more than a busy machine needs, where 300 ms reads left 0.9 s), so the failure is found only
        // once the teardown waits for the vCPU thread; the thread is released then. The teardown waits the fetch
        // out and the vCPU may fault once more: 2 x 3 s stays inside the 15 s the teardown gives its vCPU step.
        var store = new SlowBackingStore(new ZeroBackingStore(), TimeSpan.FromSeconds(1));
        store.FailEveryRead("injected");
        var node = StartNode();
        var vm = CreateLazyVm(node, "stop-on-failing", LazyGuests.Toucher(1, 16, dwordsPerPage: 1), store, 16);
        Start(vm.Vm);
        AwaitCondition(() => Counters(vm.Vm).Vcpus[0] is { Faults: > 0, LiveWorkers: > 0 }, Long, TimeSpan.FromMilliseconds(5));

        vm.Vm.Vm.Tell(StopVm.Instance);
        var events = EventsUntilEnd(vm.Vm);
        Assert.IsType<VmOutcome.StoppedOnRequest>(events.OfType<VmEnded>().Single().Outcome);
        Assert.Equal(Enum.GetValues<TeardownStep>(), events.OfType<VmTeardownStepped>().Select(s => s.Step));
        ExpectMsg<VmStopped>(Long);
        var report = Counters(vm.Vm);
        Assert.Equal(0, report.RunningFetches);
        Assert.Equal(0, report.InstallsAfterUnmap);
    }

    [Fact]
    public void A_fault_that_fails_before_the_actors_take_faults_still_fails_the_vm_and_its_thread_is_released()
    {
        // The router resolves a fault itself when no queue takes it (here: the actors do not exist yet, as when a busy
        // dispatcher has not run their PreStart when the vCPU first faults). userfaultfd cannot fail the fault, so before
        // the fix the thread stayed blocked and nothing told the VM, which stayed Running for good.
        var store = new ZeroBackingStore();
        var failing = new SlowBackingStore(store, TimeSpan.Zero);
        failing.FailEveryRead("injected before the start");
        using var router = new AsyncPfRouter(failing, 1, 0x4000_0000, new AsyncPfOptions { ReadAttempts = 1 });
        using var lazy = LazyGuestMemory.Create(4 * 4096, router, name: "early");
        router.Attach(lazy);
        var vcpu = NativeTouch.OnThread("early-vcpu0", () =>
        {
            router.BindVcpuThread(0, NativeTouch.ThreadId());
            NativeTouch.ReadDword(lazy.Address + 4096);
        });
        try
        {
            AwaitCondition(() => router.Report("early").Vcpus[0].Failed > 0, Long, TimeSpan.FromMilliseconds(5));
            Assert.False(vcpu.IsCompleted, "userfaultfd keeps the thread blocked on the unreadable page");

            var parent = CreateTestProbe();
            var actor = parent.ChildActorOf(AsyncPfActor.Props(router, "early"));
            var failed = parent.ExpectMsg<LazyMemoryFailed>(Long);
            Assert.Equal("early", failed.VmName);
            Assert.Contains("lazy memory page 1 (guest-physical 0x40001000) could not be read from the backing store 'slow(0 ms) zero'", failed.Reason);
            Assert.Contains("injected before the start", failed.Reason);

            // The teardown's release wakes the thread (a zero page: its contents no longer matter).
            actor.Tell(ReleaseUnreadableFaults.Instance);
            Assert.True(vcpu.Wait(Long), "the released thread ran on");
            actor.Tell(FlushAsyncPf.Instance, TestActor);
            ExpectMsg<AsyncPfFlushed>(Long);
        }
        finally
        {
            // Never unmap the region under a thread still blocked in it (a failing run would crash the test host).
            if (!vcpu.IsCompleted && lazy.TryInstallZero(1) != PageInstall.RegionClosed) vcpu.Wait(Long);
        }
        Assert.Equal(0, router.RunningFetches);
    }
}
