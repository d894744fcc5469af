using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>A VM with lazy memory created for a test: the VM, its machine, and the guest's done signal.</summary>
public sealed record LazyVm(TestVm Vm, MachineParts Machine, DoneDevice Done)
{
    /// <summary>The VM's lazy memory.</summary>
    public LazyGuestMemory Lazy => Machine.LazyMemory!;

    /// <summary>The VM's async-PF router (its counters stay readable after the VM is destroyed).</summary>
    public AsyncPfRouter? Router { get; init; }
}

/// <summary>VmTestKit plus VMs whose lazy memory faults into the async page-fault actors.</summary>
public abstract class AsyncPfTestKit(ITestOutputHelper output) : VmTestKit(output)
{
    /// <summary>
    /// The software accelerator with every block's lazy-memory accesses precise from the start, so that a guest using
    /// async page faults is told "page not present" even for the first missing page of a block (by default that one
    /// blocks and teaches the vCPU the block): for tests that hold the first page and expect the guest to run on.
    /// </summary>
    protected static Hardware.Soft.SoftAccelerator EveryFaultVisible() => new() { PreciseEverywhere = true };

    /// <summary>
    /// Creates (not starts) VM <paramref name="name"/> running <paramref name="guest"/> with <paramref name="lazyPages"/>
    /// pages of lazy memory at <see cref="LazyGuests.LazyBase"/> from <paramref name="store"/>, through
    /// <see cref="MachineVm.Spec"/> as a user would.
    /// </summary>
    protected LazyVm CreateLazyVm(IActorRef node, string name, Hardware.Images.IBootableImage guest, IBackingStore store, int lazyPages, AsyncPfOptions? options = null,
        Hardware.Accel.IAccelerator? accelerator = null)
    {
        var done = new DoneDevice(guest.VcpuCount);
        MachineParts? machine = null;
        AsyncPfRouter? router = null;
        var machineSpec = new MachineSpec
        {
            Image = guest,
            MemoryBytes = TestMemory,
            LazyMemory = new LazyMemorySpec(LazyGuests.LazyBase, (ulong)lazyPages * 4096, store),
        };
        var spec = MachineVm.Spec(name, accelerator ?? Accelerator, machineSpec, m =>
        {
            machine = m;
            m.Bus.RegisterPorts(LazyGuests.DonePort, 1, done);
            return [];
        }, options, routerBuilt: r => router = r);
        node.Tell(new CreateVm(spec));
        var created = ExpectMsg<VmCreated>(Long);
        var events = CreateTestProbe();
        created.Vm.Tell(new SubscribeVm(events.Ref));
        ExpectMsg<VmSubscribed>();
        return new LazyVm(new TestVm(name, created.Vm, events, machine!), machine!, done) { Router = router };
    }

    /// <summary>The VM's async-PF counters, asked through its VmActor.</summary>
    protected AsyncPfReport Counters(TestVm vm) => Ask<AsyncPfReport>(vm, GetAsyncPfCounters.Instance);

    /// <summary>True if every fault of the vCPU ended exactly once: early, woken or cancelled.</summary>
    protected static bool EveryFaultEndedOnce(AsyncPfVcpuCounters c) => c.Faults == c.EarlyCompletions + c.Wakeups + c.CancelledWaits;

    /// <summary>
    /// The VM's counters once every fault has ended. The installing thread records a completion just after the
    /// install that woke the vCPU, so the guest can be a moment ahead of the counters; a fault lost or counted
    /// twice never settles and fails here.
    /// </summary>
    protected AsyncPfReport SettledCounters(TestVm vm)
    {
        AsyncPfReport report = Counters(vm);
        AwaitCondition(() => (report = Counters(vm)).Vcpus.All(EveryFaultEndedOnce), Long, TimeSpan.FromMilliseconds(5),
            $"every fault ended exactly once: {string.Join("; ", report.Vcpus)}");
        return report;
    }

    /// <summary>
    /// Reads the whole lazy region once every page is present (host code never touches a missing one). A worker
    /// marks its page present just after the install that woke the guest, so the guest can be done a moment earlier.
    /// </summary>
    protected byte[] ReadAllPresent(LazyGuestMemory lazy)
    {
        AwaitCondition(() => lazy.PresentPages == (long)lazy.PageCount, Long, TimeSpan.FromMilliseconds(5), $"every page of {lazy.Name} present");
        return lazy.Memory.Span(0, checked((int)lazy.Size)).ToArray();
    }
}
