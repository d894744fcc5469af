using Akka.Actor;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Lazy;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>Lazy-memory requests through the VmActor: refusals, the background fill, counters after the end, teardown.</summary>
public class AsyncPfVmRequestTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    [Fact]
    public void A_vm_without_lazy_memory_refuses_lazy_memory_requests()
    {
        var node = StartNode();
        var vm = CreateVm(node, "plain", TestGuests.Spin());
        foreach (var request in new object[] { GetAsyncPfCounters.Instance, new WakeupAllAsyncPf(0), FillLazyMemory.Instance, new AwaitGuestPages(0, 0x4000_0000, 4096) })
        {
            var refused = Ask<VmRequestFailed>(vm, request);
            Assert.IsType<VmError.LazyMemoryRefused>(refused.Error);
        }
    }

    [Fact]
    public void Requests_naming_a_missing_vcpu_or_pages_outside_the_region_are_refused()
    {
        var node = StartNode();
        var vm = CreateLazyVm(node, "lazy-refusals", LazyGuests.Toucher(1, 4), new ZeroBackingStore(), 16);
        Assert.Equal(new VmError.UnknownVcpu(3, 1), Ask<VmRequestFailed>(vm.Vm, new WakeupAllAsyncPf(3)).Error);
        Assert.IsType<VmError.LazyMemoryRefused>(Ask<VmRequestFailed>(vm.Vm, new AwaitGuestPages(0, LazyGuests.LazyBase - 4096, 4096)).Error);
        Assert.IsType<VmError.LazyMemoryRefused>(Ask<VmRequestFailed>(vm.Vm, new AwaitGuestPages(0, LazyGuests.LazyBase + 15 * 4096, 2 * 4096)).Error);
        Assert.IsType<VmError.LazyMemoryRefused>(Ask<VmRequestFailed>(vm.Vm, new AwaitGuestPages(0, LazyGuests.LazyBase, 0)).Error);
        Assert.False(Ask<AsyncPfWakeupAllPosted>(vm.Vm, new WakeupAllAsyncPf(0)).Coalesced);
    }

    [Fact]
    public void A_page_waited_for_at_the_queues_limit_waits_for_a_free_slot_and_does_not_hold_the_queue()
    {
        // A limit of 1: page 0 takes the only slot, page 1 finds the queue full. Both reads are held. Page 0 released,
        // its waiter must be answered while page 1 is still held (the queue once fetched a page beyond its limit inside
        // its handler, so page 1's held read kept page 0's completion waiting in the mailbox).
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var node = StartNode();
        var vm = CreateLazyVm(node, "await-at-limit", LazyGuests.Toucher(1, 4), store, 16, new AsyncPfOptions { PerVcpuLimit = 1, ReadaheadPages = 0 });
        var first = vm.Vm.Vm.Ask<GuestPagesReleased>(new AwaitGuestPages(0, LazyGuests.LazyBase, 4096), Long);
        var second = vm.Vm.Vm.Ask<GuestPagesReleased>(new AwaitGuestPages(0, LazyGuests.LazyBase + 4096, 4096), Long);
        Assert.True(store.HeldReadsStarted(1).Wait(Long), "page 0's read started");

        store.Release(0);
        Assert.True(first.Wait(Long), $"page 0's waiter answered while page 1 is held ({store.HeldInFlight} held reads in flight)");
        Assert.Equal(PageWaitRelease.Present, first.Result.Release);
        Assert.False(second.IsCompleted, "page 1 is still held");
        Assert.True(store.HeldReadsStarted(2).Wait(Long), "page 1's read started once page 0 freed the slot");
        Assert.Equal(1, store.MaxInFlight);

        store.Release(1);
        Assert.True(second.Wait(Long), "page 1's waiter answered");
        Assert.Equal(PageWaitRelease.Present, second.Result.Release);
        Assert.True(vm.Lazy.IsPresent(0) && vm.Lazy.IsPresent(1));
    }

    [Fact]
    public void A_fill_through_the_vm_installs_every_page_from_the_file_and_a_guest_then_takes_no_fault()
    {
        const int pages = 512;
        using var image = new TempImage(pages, seed: 9);
        using var file = FileBackingStore.Open(image.Path);
        var node = StartNode();
        var vm = CreateLazyVm(node, "filled", LazyGuests.Toucher(1, pages), file, pages);
        // The page-fill latency histogram: one sample per page installed (other tests' fills may add theirs).
        long fillSamples = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Actorvisor.Actors.Metrics.ActorsMeter.Name && instrument.Name == "actorvisor.lazy.page_fill.duration") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            if (seconds >= 0) Interlocked.Increment(ref fillSamples);
        });
        listener.Start();

        var filled = Ask<LazyMemoryFilled>(vm.Vm, FillLazyMemory.Instance);
        Assert.True(filled.Completed, filled.Problem);
        Assert.Equal(pages, filled.Installed);
        Assert.True(Interlocked.Read(ref fillSamples) >= pages, $"{fillSamples} page-fill samples for {pages} pages installed");
        Assert.Equal(image.Bytes, ReadAllPresent(vm.Lazy));

        Start(vm.Vm);
        Assert.True(vm.Done.AllDone.Wait(Long));
        Assert.Equal(LazyGuests.ExpectedSum(image.Bytes, 0, pages), vm.Machine.Memory.Read<uint>(LazyGuests.SumAddress(0)));
        var report = Counters(vm.Vm);
        Assert.Equal(0, report.Faults);
        Assert.Equal(pages, report.FilledPages);
    }

    [Fact]
    public void Stopping_a_vm_whose_vcpu_waits_on_a_slow_page_runs_every_step_and_leaves_nothing_running()
    {
        // The guest reads every 64th page, each 50 ms away; the pages after them, which only readahead asks
        // for, never arrive: at the stop the vCPU waits on a page and readahead works are in flight.
        var slow = new SlowBackingStore(new ZeroBackingStore(useZeroPageIoctl: false), TimeSpan.FromMilliseconds(50));
        var store = new HeldPagesStore(slow, held: page => page % 64 != 0);
        var node = StartNode();
        var vm = CreateLazyVm(node, "slow-stop", LazyGuests.Toucher(1, 64, pageStride: 64, dwordsPerPage: 1), store, 4096);
        Start(vm.Vm);
        AwaitCondition(() => Counters(vm.Vm).Vcpus[0] is { Faults: > 0, LiveWorkers: > 0 }, Long, TimeSpan.FromMilliseconds(5));
        var faultsAtStop = Counters(vm.Vm).Vcpus[0].Faults;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        vm.Vm.Vm.Tell(StopVm.Instance);
        var steps = EventsUntilEnd(vm.Vm).OfType<VmTeardownStepped>().Select(s => s.Step).ToList();
        Assert.Equal(Enum.GetValues<TeardownStep>(), steps);
        ExpectMsg<VmStopped>(Long);
        output.WriteLine($"stopped {clock.ElapsedMilliseconds} ms after the request, which came at fault {faultsAtStop}");

        // Answered after the end too.
        var report = Counters(vm.Vm);
        var c = report.Vcpus[0];
        output.WriteLine(c.ToString());
        Assert.True(c.Cancelled > 0, "readahead was cancelled by the flush");
        Assert.Equal(0, c.LiveWorkers);
        Assert.Equal(0, c.Outstanding);
        Assert.Equal(0, report.RunningFetches);
        Assert.Equal(0, report.InstallsAfterUnmap);
        Assert.Equal(0, store.InFlight);
        Assert.True(EveryFaultEndedOnce(c), c.ToString());
        Assert.True(vm.Lazy.Memory.IsDisposed);
    }
}
