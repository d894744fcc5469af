using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Lazy;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>ASYNC_PF_PER_VCPU is a real limit: readahead counts against it, and faults beyond it go synchronous.</summary>
public class LimitTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    [Fact]
    public void With_a_limit_of_4_and_a_slow_store_never_more_than_4_workers_run_for_the_vcpu_and_the_other_faults_go_synchronous()
    {
        // The guest reads page 0, 64, 128, ... (8 pages). Every page it reads answers at once; the pages after
        // them, which only readahead asks for, are slow: they never arrive while the guest runs.
        const int touched = 8, stride = 64, pages = touched * stride;
        using var image = new TempImage(pages, seed: 4);
        using var file = FileBackingStore.Open(image.Path);
        var store = new HeldPagesStore(file, held: page => page % stride != 0);
        var options = new AsyncPfOptions { PerVcpuLimit = 4, ReadaheadPages = 16 };
        var node = StartNode();
        var vm = CreateLazyVm(node, "limit", LazyGuests.Toucher(1, touched, pageStride: stride, dwordsPerPage: 1), store, pages, options);
        Start(vm.Vm);

        Assert.True(vm.Done.AllDone.Wait(Long), "the guest read its pages");
        Assert.Equal(LazyGuests.ExpectedSum(image.Bytes, 0, touched, stride, 1), vm.Machine.Memory.Read<uint>(LazyGuests.SumAddress(0)));
        var c = SettledCounters(vm.Vm).Vcpus[0];
        output.WriteLine(c.ToString());
        // Fault 0 gets a worker and 3 readahead workers (the limit); consuming its completion frees one slot,
        // which readahead takes again. The 4 slow readahead reads then hold every slot: each later fault is
        // resolved synchronously.
        Assert.Equal(touched, c.Faults);
        Assert.Equal(1, c.Async);
        Assert.Equal(touched - 1, c.SyncFallbacks);
        Assert.Equal(4, c.Readahead);
        Assert.Equal(4, c.PeakWorkers);
        Assert.Equal(4, c.PeakOutstanding);
        Assert.Equal(4, c.LiveWorkers);
        Assert.Equal(4, store.HeldInFlight);
        // At most 4 worker reads plus the one synchronous read of the vCPU at any moment.
        Assert.InRange(store.MaxInFlight, 1, 5);

        // Destroying the VM cancels the four readahead works still outstanding.
        vm.Vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
        var after = Counters(vm.Vm).Vcpus[0];
        // Exactly the four held readahead works. (A work that came back cancelled before the queue's flush used to
        // free its slot for a new readahead work, which the flush then cancelled too: a fifth, seen under load.)
        Assert.Equal(4, after.Cancelled);
        Assert.Equal(0, after.LiveWorkers);
        Assert.Equal(0, after.Outstanding);
        Assert.Equal(0, store.InFlight);
    }

    [Fact]
    public void A_sequential_scan_with_the_default_limit_mostly_joins_readahead_and_never_exceeds_the_limit()
    {
        const int pages = 512;
        using var image = new TempImage(pages, seed: 5);
        using var file = FileBackingStore.Open(image.Path);
        var slow = new SlowBackingStore(file, TimeSpan.FromMilliseconds(1));
        var node = StartNode();
        var vm = CreateLazyVm(node, "scan", LazyGuests.Toucher(1, pages, dwordsPerPage: 1), slow, pages);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Start(vm.Vm);

        Assert.True(vm.Done.AllDone.Wait(Long));
        output.WriteLine($"{pages} pages in {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(image.Bytes, ReadAllPresent(vm.Lazy));
        var c = SettledCounters(vm.Vm).Vcpus[0];
        output.WriteLine(c.ToString());
        Assert.True(c.PeakOutstanding <= AsyncPfOptions.DefaultPerVcpuLimit);
        Assert.True(c.PeakWorkers <= AsyncPfOptions.DefaultPerVcpuLimit);
        Assert.True(slow.MaxInFlight <= AsyncPfOptions.DefaultPerVcpuLimit + 1, $"{slow.MaxInFlight} reads at once");
        // Readahead covers 32 pages a fault, so most pages are fetched by readahead, and a fault that finds its page
        // not yet installed mostly joins the readahead fetch already in flight. How many faults there are depends on
        // how far the vCPU outruns the fetches (76 beside a CPU hog, most of them joins), so the bound is on the
        // fetches faults had to start themselves: 9 of 512 pages measured under load; a quarter would mean
        // readahead mostly did not happen.
        Assert.True(c.Readahead >= pages / 2, $"{c.Readahead} of {pages} pages read ahead");
        Assert.True(c.Async + c.SyncFallbacks <= pages / 4, $"{c.Async + c.SyncFallbacks} fetches started by faults for {pages} sequential pages ({c.Faults} faults)");
        vm.Vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
    }
}
