using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Soft;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// Guest-visible async page faults at their limits, run by the actor runtime on the software accelerator with real
/// guest code (<see cref="AsyncPfSkippingGuest"/>): the 64-outstanding limit turns further faults synchronous; the
/// guest disabling the protocol flushes its tokens and gets no event after; destroying the VM with tokens
/// outstanding leaves no worker or fetch and writes nothing into the guest.
/// </summary>
public class GuestAsyncPfLifecycleTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    private static readonly AsyncPfOptions NoReadahead = new() { ReadaheadPages = 0 };

    // The queue's own limit above the guest-visible one, so that only AsyncPfProtocol's 64 is reached: at the queue's
    // limit a guest-visible page waits for a free slot, and with every page held none would free.
    private static readonly AsyncPfOptions NoReadaheadRoomyQueue = new() { ReadaheadPages = 0, PerVcpuLimit = 2 * Hardware.AsyncPf.AsyncPfProtocol.PerVcpuLimit };

    private static uint Guest(LazyVm vm, ulong address) => vm.Machine.Memory.Read<uint>(address);

    private static uint PageSum(int from, int to)
    {
        uint sum = 0;
        for (int p = from; p < to; p++) sum += PatternStore.Expected((ulong)p * 4096);
        return sum;
    }

    private static void AwaitTask(Task task, TimeSpan timeout, Func<string> what)
    {
        if (!task.Wait(timeout)) throw new Xunit.Sdk.XunitException($"not within {timeout}: {what()}");
    }

    private string Describe(LazyVm vm, SoftVcpu soft) =>
        $"guest: not-present {Guest(vm, AsyncPfSkippingGuest.NotPresentCount)} ready {Guest(vm, AsyncPfSkippingGuest.ReadyCount)} walked {Guest(vm, AsyncPfSkippingGuest.Walked)} "
        + $"unexpected #PF at {Guest(vm, AsyncPfSkippingGuest.UnexpectedFault):x}; protocol: sent {soft.AsyncPf.NotPresentSent}/{soft.AsyncPf.ReadySent} outstanding {soft.AsyncPf.Outstanding} "
        + $"queued {soft.AsyncPf.Queued} flushed {soft.AsyncPf.Flushed} dropped {soft.AsyncPf.ReadyDropped}";

    [Fact]
    public void At_64_outstanding_tokens_further_faults_block_synchronously_and_every_token_is_answered_once()
    {
        const int limit = Hardware.AsyncPf.AsyncPfProtocol.PerVcpuLimit, pages = limit + 8;
        var node = StartNode();
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var vm = CreateLazyVm(node, "apf-limit", AsyncPfSkippingGuest.Build(pages, AfterWalk.WaitForEveryReady), store, pages, NoReadaheadRoomyQueue,
            accelerator: EveryFaultVisible());
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        Start(vm.Vm);

        // Pages 0..63: "not present", the loads skipped. Page 64: the limit is reached, the vCPU blocks on its read.
        AwaitTask(store.HeldReadsStarted(limit + 1), Long, () => $"65 reads (64 async, the 65th the blocked vCPU's); {store.HeldInFlight} held; {Describe(vm, soft)}");
        AwaitCondition(() => Guest(vm, AsyncPfSkippingGuest.NotPresentCount) == limit, Long, TimeSpan.FromMilliseconds(2), Describe(vm, soft));
        Assert.Equal(limit, soft.AsyncPf.Outstanding);
        Assert.Equal(limit, soft.AsyncPf.NotPresentSent);
        Assert.Equal((uint)limit, Guest(vm, AsyncPfSkippingGuest.Walked));

        // Page 64 arrives: the vCPU goes on to page 65, which blocks too (still 64 outstanding).
        store.Release(limit);
        AwaitTask(store.HeldReadsStarted(limit + 2), Long, () => $"the read of page 65; {store.HeldInFlight} held; {Describe(vm, soft)}");
        Assert.Equal((uint)limit + 1, Guest(vm, AsyncPfSkippingGuest.Walked));
        Assert.Equal(limit, soft.AsyncPf.NotPresentSent);
        Assert.Equal(0, soft.AsyncPf.ReadySent);

        // The rest of the walk, with the 64 tokens still outstanding: every page synchronous.
        for (int page = limit + 1; page < pages; page++) store.Release((ulong)page);
        AwaitCondition(() => Guest(vm, AsyncPfSkippingGuest.Walked) == pages, Long, TimeSpan.FromMilliseconds(2), Describe(vm, soft));
        Assert.Equal(limit, soft.AsyncPf.NotPresentSent);
        Assert.Equal(PageSum(limit, pages), Guest(vm, AsyncPfSkippingGuest.FirstSum));

        // The first 64 pages arrive: one page ready per token, each once.
        store.Release();
        Assert.True(vm.Done.AllDone.Wait(Long), $"the guest took a page ready for every token: {Describe(vm, soft)}");
        output.WriteLine(Describe(vm, soft));
        Assert.Equal((uint)limit, Guest(vm, AsyncPfSkippingGuest.NotPresentCount));
        Assert.Equal((uint)limit, Guest(vm, AsyncPfSkippingGuest.ReadyCount));
        Assert.Equal(Guest(vm, AsyncPfSkippingGuest.NotPresentTokenSum), Guest(vm, AsyncPfSkippingGuest.ReadyTokenSum));
        Assert.Equal(PageSum(limit, pages), Guest(vm, AsyncPfSkippingGuest.FirstSum));
        Assert.Equal(limit, soft.AsyncPf.ReadySent);
        Assert.Equal(0, soft.AsyncPf.Outstanding);
        Assert.Equal(0, soft.AsyncPf.ReadyDropped);

        vm.Vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
    }

    [Fact]
    public void The_guest_disabling_the_protocol_flushes_its_tokens_and_no_page_ready_reaches_it_afterwards()
    {
        const int pages = 8;
        var node = StartNode();
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var vm = CreateLazyVm(node, "apf-disable", AsyncPfSkippingGuest.Build(pages, AfterWalk.DisableThenReadAgain), store, pages, NoReadahead,
            accelerator: EveryFaultVisible());
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        Start(vm.Vm);

        AwaitCondition(() => Guest(vm, AsyncPfSkippingGuest.Disabled) == 1, Long, TimeSpan.FromMilliseconds(2), Describe(vm, soft));
        Assert.Equal((uint)pages, Guest(vm, AsyncPfSkippingGuest.NotPresentCount));
        Assert.False(soft.AsyncPf.IsEnabled);
        Assert.Equal(pages, soft.AsyncPf.NotPresentSent);
        Assert.Equal(0, soft.AsyncPf.Outstanding);
        Assert.Equal(0, soft.AsyncPf.Queued);
        Assert.Equal(pages, soft.AsyncPf.Flushed);

        // The pages arrive after the disable: each fetch ends and reports its token, which the protocol drops.
        store.Release();
        AwaitCondition(() => soft.AsyncPf.ReadyDropped == pages, Long, TimeSpan.FromMilliseconds(2), Describe(vm, soft));
        vm.Machine.Memory.Write(AsyncPfSkippingGuest.Go, 1u);
        Assert.True(vm.Done.AllDone.Wait(Long), $"the guest read its pages again: {Describe(vm, soft)}");
        output.WriteLine(Describe(vm, soft));

        Assert.Equal(0u, Guest(vm, AsyncPfSkippingGuest.ReadyCount));
        Assert.Equal(0u, Guest(vm, AsyncPfSkippingGuest.Area + Hardware.AsyncPf.AsyncPfProtocol.TokenOffset));
        Assert.Equal(0u, Guest(vm, AsyncPfSkippingGuest.Area));
        Assert.Equal(0, soft.AsyncPf.ReadySent);
        Assert.Equal(PageSum(0, pages), Guest(vm, AsyncPfSkippingGuest.SecondSum));

        vm.Vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
    }

    [Fact]
    public void Destroying_the_vm_with_tokens_outstanding_leaves_no_worker_and_writes_nothing_into_the_guest()
    {
        const int pages = 8;
        var node = StartNode();
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var vm = CreateLazyVm(node, "apf-destroy", AsyncPfSkippingGuest.Build(pages, AfterWalk.Spin), store, pages, NoReadahead,
            accelerator: EveryFaultVisible());
        store.ClosedRegion = vm.Lazy;
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        var router = Assert.IsType<AsyncPfRouter>(vm.Router);
        Start(vm.Vm);

        AwaitTask(store.HeldReadsStarted(pages), Long, () => $"a read for every page; {Describe(vm, soft)}");
        AwaitCondition(() => Guest(vm, AsyncPfSkippingGuest.NotPresentCount) == pages, Long, TimeSpan.FromMilliseconds(2), Describe(vm, soft));
        Assert.Equal(pages, soft.AsyncPf.Outstanding);

        node.Tell(new DestroyVm("apf-destroy"));
        var destroyed = ExpectMsg<VmDestroyed>(Long);
        Assert.IsType<VmOutcome.StoppedOnRequest>(destroyed.Outcome);
        Assert.Equal(0, soft.AsyncPf.Outstanding);
        Assert.Equal(0, soft.AsyncPf.Queued);
        Assert.Equal(pages, soft.AsyncPf.Flushed);

        // Whatever a late fetch does now, nothing may reach the guest.
        store.Release();
        var report = router.Report("apf-destroy");
        output.WriteLine($"{report}; {soft.AsyncPf.ReadySent} ready sent, {soft.AsyncPf.ReadyDropped} dropped");
        Assert.Equal(0, report.RunningFetches);
        Assert.Equal(0, report.LiveWorkers);
        Assert.Equal(0, store.InFlight);
        Assert.Equal(0, store.ReadsAfterClose);
        Assert.True(vm.Lazy.Memory.IsDisposed, "lazy memory unmapped");
        Assert.Equal(0, vm.Lazy.InstallsAfterUnmap);
        Assert.Equal(0, soft.AsyncPf.ReadySent);
        // A page ready for a flushed token is dropped, never queued: nothing is left to deliver.
        soft.AsyncPf.PageReady(1 << 12);
        Assert.Equal(0, soft.AsyncPf.Queued);
        Assert.Equal(0, soft.AsyncPf.ReadySent);
    }
}
