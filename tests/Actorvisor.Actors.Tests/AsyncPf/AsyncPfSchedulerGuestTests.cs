using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Soft;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// The library's async-PF scheduler guest (issue 15 point 5) run by the actor runtime on the software accelerator
/// with lazy memory: its walker sleeps on "page not present" while its compute tasks run, and both orders of the
/// seed-003 race (page ready after / before the sleep) are forced on purpose.
/// </summary>
public class AsyncPfSchedulerGuestTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    private static readonly AsyncPfOptions NoReadahead = new() { ReadaheadPages = 0 };

    private static uint PatternSum(int pages) => (uint)(1024UL * (ulong)pages * (ulong)(pages - 1) / 2);

    private AsyncPfSchedulerReport RunToEnd(LazyVm vm, int walkPages)
    {
        // Each run here ends in 0.1-6 s on this loaded 2-core VM; Long (60 s) only bounds a hung guest, which the
        // message then describes from its own counters.
        var events = new List<VmEvent>();
        while (events.LastOrDefault() is not VmEnded)
        {
            var m = vm.Vm.Events.ReceiveOne(Long);
            if (m is not null && m is not VmEvent) continue;
            if (m is not VmEvent e) throw new Xunit.Sdk.XunitException($"the guest did not end within {Long}; it printed: {Console(events)}; ticks {Guest(vm, AsyncPfSchedulerGuest.TickCount)}, "
                + $"task {Guest(vm, AsyncPfSchedulerGuest.CurrentTask)}, walked {Guest(vm, AsyncPfSchedulerGuest.ProgressOf(0))}, not-present {Guest(vm, AsyncPfSchedulerGuest.NotPresentCount)}; {Diagnose(vm)}");
            events.Add(e);
        }
        string console = Console(events);
        output.WriteLine(console);
        Assert.Equal(new VmOutcome.Exited(0), events.OfType<VmEnded>().Single().Outcome);
        var report = AsyncPfSchedulerReport.Parse(console);
        Assert.Contains(AsyncPfSchedulerGuest.WalkLine(walkPages, PatternSum(walkPages)), console);
        Assert.Empty(report.Inconsistencies());
        output.WriteLine($"ticks {report.Ticks}, of which kept a just-woken task running {report.WokenKept}");
        return report;
    }

    private static string Diagnose(LazyVm vm)
    {
        var soft = (SoftVcpu)vm.Machine.Vcpus[0];
        var apic = soft.Apic;
        return $"apic: firings {apic.TimerFirings} delivered {apic.Delivered} eois {apic.Eois} ppr {apic.ProcessorPriority:x}; "
            + $"apf outstanding {soft.AsyncPf.Outstanding} queued {soft.AsyncPf.Queued} sent {soft.AsyncPf.NotPresentSent}/{soft.AsyncPf.ReadySent}; "
            + $"present {vm.Lazy.PresentPages}";
    }

    private static uint Guest(LazyVm vm, ulong address) => vm.Machine.Memory.Read<uint>(address);

    [Fact]
    public void The_walker_sleeps_on_missing_pages_while_every_compute_task_runs_and_the_counts_agree()
    {
        var node = StartNode();
        const int pages = 64;
        // 2 ms per read: each sleep is long enough for the compute tasks and the 1 ms tick to come round. No readahead:
        // with it the walk outruns the ticks (64 pages in 8 ticks, one compute task never ran).
        var store = new SlowBackingStore(new PatternStore(), TimeSpan.FromMilliseconds(2));
        var vm = CreateLazyVm(node, "apf-sched", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 3, useAsyncPf: true), store, pages, NoReadahead,
            accelerator: EveryFaultVisible());
        Start(vm.Vm);

        var report = RunToEnd(vm, pages);
        Assert.True(report.AsyncPfEnabled);
        Assert.InRange(report.NotPresent, 1u, (uint)pages);
        Assert.Equal(0u, report.WakeupAll);
        Assert.All(report.TaskProgress.Skip(1), p => Assert.True(p > 0, "every compute task ran"));
        Assert.True(report.Ticks > 0, "the guest printed its tick count");
        Assert.InRange(report.WokenKept, 0u, report.Ticks);
    }

    [Fact]
    public void By_default_the_first_missing_page_of_each_block_blocks_once_and_every_later_one_is_guest_visible()
    {
        // No readahead, so every page faults once: blocking while its block has no precise-fault code hook yet (the
        // walker's first pass through its code and its loop: at most 2 blocks), "page not present" from then on.
        var node = StartNode();
        const int pages = 32;
        var store = new SlowBackingStore(new PatternStore(), TimeSpan.FromMilliseconds(1));
        var vm = CreateLazyVm(node, "apf-sched-learn", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 3, useAsyncPf: true), store, pages, NoReadahead,
            accelerator: new SoftAccelerator());
        Start(vm.Vm);

        var report = RunToEnd(vm, pages);
        var counters = Counters(vm.Vm).Vcpus.Single();
        output.WriteLine($"blocking faults {counters.Faults}, guest-visible {counters.GuestFaults} (ready {counters.GuestReady}), guest not-present {report.NotPresent}");
        Assert.True(report.AsyncPfEnabled);
        Assert.InRange(counters.Faults, 1, 2);
        Assert.Equal(pages - counters.Faults, report.NotPresent);
        Assert.Equal(report.NotPresent, counters.GuestFaults);
        Assert.Equal(counters.GuestFaults, counters.GuestReady);
    }

    [Fact]
    public void Without_the_protocol_the_same_guest_blocks_on_each_page_and_sees_no_event()
    {
        var node = StartNode();
        const int pages = 32;
        var vm = CreateLazyVm(node, "apf-sched-off", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 3, useAsyncPf: false), new PatternStore(), pages,
            accelerator: EveryFaultVisible());
        Start(vm.Vm);

        var report = RunToEnd(vm, pages);
        Assert.False(report.AsyncPfEnabled);
        Assert.Equal(0u, report.NotPresent);
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        Assert.False(soft.AsyncPf.IsEnabled);
        Assert.Equal(0, soft.AsyncPf.NotPresentSent);
    }

    [Fact]
    public void Not_present_first_each_page_ready_finds_its_task_asleep_and_wakes_it()
    {
        // Every read is held until the test sees the walker asleep on that page's token: "not present" strictly first.
        var node = StartNode();
        const int pages = 4;
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var vm = CreateLazyVm(node, "apf-np-first", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 2, useAsyncPf: true), store, pages, NoReadahead,
            accelerator: EveryFaultVisible());
        Start(vm.Vm);

        for (int page = 0; page < pages; page++)
        {
            int expected = page + 1;
            AwaitCondition(() => Guest(vm, AsyncPfSchedulerGuest.NotPresentCount) == expected && Guest(vm, AsyncPfSchedulerGuest.SleepingCount) == 1, Long,
                TimeSpan.FromMilliseconds(2), $"the walker asleep on page {page}");
            Assert.Equal(AsyncPfSchedulerGuest.Sleeping, Guest(vm, AsyncPfSchedulerGuest.StateOf(0)));
            // Asleep, it leaves the vCPU to the compute tasks.
            ulong before = vm.Machine.Memory.Read<ulong>(AsyncPfSchedulerGuest.ProgressOf(1));
            AwaitCondition(() => vm.Machine.Memory.Read<ulong>(AsyncPfSchedulerGuest.ProgressOf(1)) > before, Long, TimeSpan.FromMilliseconds(2));
            store.Release((ulong)page);
        }

        var report = RunToEnd(vm, pages);
        Assert.Equal((uint)pages, report.NotPresent);
        Assert.Equal((uint)pages, report.Ready);
        Assert.Equal(0u, report.EarlyReady);
        Assert.Equal(0u, report.LateSleeps);
    }

    [Fact]
    public void Page_ready_first_leaves_a_dummy_entry_and_the_late_sleep_returns_at_once()
    {
        // The test's fetcher holds the vCPU inside its fault hook until the async-PF actors installed the page and the
        // page-ready vector is raised: the guest's #PF handler then takes "page ready" in its interrupt window, before
        // it sleeps on the token (seed 003's -1 state).
        var node = StartNode();
        const int pages = 4;
        var vm = CreateLazyVm(node, "apf-ready-first", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 2, useAsyncPf: true), new PatternStore(), pages,
            NoReadahead, accelerator: EveryFaultVisible());
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        var vmActor = vm.Vm.Vm;
        soft.AsyncPageFetcher = (gpa, token) =>
        {
            var answer = vmActor.Ask<GuestPagesReleased>(new AwaitGuestPages(soft.Id, gpa, 4096), Long).GetAwaiter().GetResult();
            Assert.Equal(PageWaitRelease.Present, answer.Release);
            soft.AsyncPf.PageReady(token);
        };
        Start(vm.Vm);

        var report = RunToEnd(vm, pages);
        Assert.Equal((uint)pages, report.NotPresent);
        Assert.Equal((uint)pages, report.Ready);
        Assert.Equal((uint)pages, report.EarlyReady);
        Assert.Equal((uint)pages, report.LateSleeps);
    }

    [Fact]
    public void Wakeup_all_wakes_the_sleeping_walker_and_its_retry_of_the_still_missing_page_blocks_until_it_arrives()
    {
        var node = StartNode();
        const int pages = 4;
        var store = new HeldPagesStore(new PatternStore(), held: _ => true);
        var vm = CreateLazyVm(node, "apf-wakeup-all", AsyncPfSchedulerGuest.Build(LazyGuests.LazyBase, pages, 2, useAsyncPf: true), store, pages, NoReadahead,
            accelerator: EveryFaultVisible());
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        Start(vm.Vm);
        AwaitCondition(() => Guest(vm, AsyncPfSchedulerGuest.SleepingCount) == 1, Long, TimeSpan.FromMilliseconds(2), "the walker asleep on page 0");

        soft.AsyncPf.WakeupAll();
        AwaitCondition(() => Guest(vm, AsyncPfSchedulerGuest.WakeupAllCount) == 1, Long, TimeSpan.FromMilliseconds(2), "the guest took the wakeup-all");
        Assert.Equal(0u, Guest(vm, AsyncPfSchedulerGuest.SleepingCount));
        Assert.Equal(AsyncPfSchedulerGuest.Runnable, Guest(vm, AsyncPfSchedulerGuest.StateOf(0)));
        store.Release();

        var report = RunToEnd(vm, pages);
        Assert.Equal(1u, report.WakeupAll);
        Assert.InRange(report.NotPresent, 1u, (uint)pages);
    }
}
