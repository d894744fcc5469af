using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Registry;

/// <summary>The node's registry with real VMs: names, capacity, isolation of failures, shutdown.</summary>
public class NodeVmTests(ITestOutputHelper output) : VmTestKit(output)
{
    private static readonly TeardownStep[] AllSteps = Enum.GetValues<TeardownStep>();

    [Fact]
    public void A_second_vm_with_the_same_name_is_refused_and_the_first_is_untouched()
    {
        var node = StartNode();
        var first = CreateVm(node, "web", TestGuests.Spin());
        Start(first);
        node.Tell(new CreateVm(Spec("web", GuestLibrary.Hello())));
        Assert.Equal(new VmRegistryError.DuplicateVmName("web"), ExpectMsg<NodeRequestFailed>(Long).Error);

        node.Tell(ListVms.Instance);
        var listed = ExpectMsg<VmList>().Vms.Single();
        // The registry records when the guest first ran.
        Assert.NotNull(listed.StartedAt);
        Assert.InRange(listed.StartedAt!.Value, DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10), DateTimeOffset.UtcNow);
        Assert.Equal(new VmSummary("web", VmState.Running, 1, TestMemory, null, 0, listed.StartedAt), listed);
        node.Tell(new DescribeVm("web"));
        var description = ExpectMsg<VmDescription>();
        Assert.Equal((VmState.Running, 1, TestMemory), (description.State, description.VcpuCount, description.MemoryBytes));
        Assert.Contains("spin", description.Description);
        Assert.Equal(2, description.Devices.Count); // the UART and the debug-exit port
    }

    [Fact]
    public void The_follower_hears_every_change_of_a_vm_line_and_the_current_line_comes_in_order_with_them()
    {
        var follower = CreateTestProbe();
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(16, 4UL << 30), follower.Ref), "followed-node");
        var hello = CreateVm(node, "hello", GuestLibrary.Hello());
        node.Tell(new GetVmSummary("hello"));
        Assert.Equal(new VmSummary("hello", VmState.Created, 1, TestMemory, null), ExpectMsg<VmSummary>());
        Start(hello);
        var running = follower.ExpectMsg<VmRegistryEntryChanged>(Long);
        Assert.Equal((VmState.Created, VmState.Running), (running.From, running.Vm.State));
        // The guest ends by itself: the registry's line goes through Stopping to Stopped with the outcome, and the
        // follower is told each step; the registry's own answer agrees with the last one.
        var ended = follower.FishForMessage<VmRegistryEntryChanged>(c => c.Vm.Outcome is not null, Long);
        Assert.Equal(VmState.Stopped, ended.Vm.State);
        Assert.Equal(ExpectEnded(hello), ended.Vm.Outcome);
        node.Tell(new GetVmSummary("hello"));
        Assert.Equal(ended.Vm, ExpectMsg<VmSummary>());
        node.Tell(new GetVmSummary("nobody"));
        Assert.Equal(new VmRegistryError.UnknownVm("nobody"), ExpectMsg<NodeRequestFailed>().Error);
    }

    [Fact]
    public void Capacity_is_reserved_by_live_vms_and_freed_when_they_end()
    {
        var node = StartNode(new NodeCapacity(Vcpus: 3, MemoryBytes: 1UL << 30));
        var pair = CreateVm(node, "pair", TestGuests.Spin(vcpus: 2));
        var single = CreateVm(node, "single", TestGuests.Spin());
        node.Tell(GetNodeUsage.Instance);
        Assert.Equal(3, ExpectMsg<NodeUsage>().UsedVcpus);

        node.Tell(new CreateVm(Spec("one-too-many", TestGuests.Spin())));
        var refused = Assert.IsType<VmRegistryError.InsufficientCapacity>(ExpectMsg<NodeRequestFailed>(Long).Error);
        Assert.Equal(("vcpus", 1UL, 0UL, 3UL), (refused.Resource, refused.Requested, refused.Available, refused.Total));

        // A VM that ended keeps its name (for describe) but no longer holds capacity.
        Ask<VmStopped>(pair, StopVm.Instance);
        node.Tell(GetNodeUsage.Instance);
        Assert.Equal(1, ExpectMsg<NodeUsage>().UsedVcpus);
        var next = CreateVm(node, "one-too-many", TestGuests.Spin());
        Start(next);
        Start(single);
    }

    [Fact]
    public void A_device_that_throws_fails_its_vm_while_another_vm_on_the_node_keeps_running()
    {
        var node = StartNode();
        var healthy = CreateVm(node, "healthy", TestGuests.Spin());
        var broken = CreateVm(node, "broken", TestGuests.OutThenSpin(), m =>
        {
            var device = new ExplodingDevice();
            m.Bus.RegisterPorts(TestGuests.ProbePort, 1, device);
            return [new VmDevice(device.Name, device)];
        });
        Start(healthy);
        // The guest's first instruction hits the device: the vCPU thread can fault before it has acknowledged the
        // start, and the start is then refused with that fault instead of answered Running. Either way the VM fails.
        broken.Vm.Tell(StartVm.Instance);
        var started = ExpectMsg<object>(Long);
        if (started is VmRequestFailed refused) Assert.Contains("exploded", refused.Error.Message);
        else Assert.Equal(new VmTransitioned(broken.Name, VmState.Running), started);

        var events = EventsUntilEnd(broken);
        var failed = Assert.IsType<VmOutcome.Failed>(events.OfType<VmEnded>().Single().Outcome);
        Assert.Contains("exploded", failed.Reason);
        Assert.Equal(AllSteps, events.OfType<VmTeardownStepped>().Select(s => s.Step));
        Assert.True(broken.Machine.Memory.IsDisposed);

        // The node and the other VM are unaffected: it still runs guest code.
        node.Tell(ListVms.Instance);
        Assert.Equal([("broken", VmState.Failed), ("healthy", VmState.Running)], ExpectMsg<VmList>().Vms.Select(v => (v.Name, v.State)));
        var a = Ask<VcpuRegisters>(healthy, new GetRegisters(0)).Registers.Rbx;
        AwaitAssert(() => Assert.True(Ask<VcpuRegisters>(healthy, new GetRegisters(0)).Registers.Rbx > a, "the healthy guest still counts"), Long);
        Assert.Equal(VmState.Running, Ask<VmDescription>(healthy, GetVmDescription.Instance).State);
    }

    [Fact]
    public void Shutting_the_node_down_tears_every_vm_down_in_teardown_order()
    {
        var node = StartNode();
        var vms = new[] { CreateVm(node, "a", TestGuests.Spin(vcpus: 2)), CreateVm(node, "b", TestGuests.Spin()), CreateVm(node, "c", GuestLibrary.Hello()) };
        Start(vms[0]);
        Start(vms[1]);
        Ask<VmTransitioned>(vms[1], PauseVm.Instance);

        node.Tell(ShutdownNode.Instance);
        Assert.Equal(new NodeShutDown(3), ExpectMsg<NodeShutDown>(Long));
        foreach (var vm in vms)
        {
            var events = EventsUntilEnd(vm);
            Assert.Equal(AllSteps, events.OfType<VmTeardownStepped>().Select(s => s.Step));
            Assert.Equal(new VmOutcome.StoppedOnRequest(), events.OfType<VmEnded>().Single().Outcome);
            Assert.True(vm.Machine.Memory.IsDisposed);
        }
        node.Tell(ListVms.Instance);
        Assert.Empty(ExpectMsg<VmList>().Vms);
    }

    [Fact]
    public void Stopping_the_node_actor_tears_every_vm_down_in_the_same_order()
    {
        var node = StartNode();
        var running = CreateVm(node, "running", TestGuests.Spin(vcpus: 2));
        var created = CreateVm(node, "created", TestGuests.Spin());
        Start(running);
        Watch(node);

        Sys.Stop(node);
        ExpectTerminated(node, Long);
        foreach (var vm in new[] { running, created })
        {
            var events = EventsUntilEnd(vm);
            Assert.Equal(AllSteps, events.OfType<VmTeardownStepped>().Select(s => s.Step));
            Assert.True(vm.Machine.Memory.IsDisposed);
        }
    }
}
