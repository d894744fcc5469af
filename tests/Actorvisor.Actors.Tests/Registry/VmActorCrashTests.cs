using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Registry;

/// <summary>A VmActor that itself throws is stopped by the node, which records it Failed; its PostStop tears it down.</summary>
public class VmActorCrashTests(ITestOutputHelper output) : VmTestKit(output)
{
    [Fact]
    public void A_crashing_vm_actor_is_torn_down_by_its_post_stop_and_reported_failed_while_the_node_serves_on()
    {
        var node = StartNode();
        MachineParts? machine = null;
        var spec = new VmActorSpec("crashy", 1, TestMemory, context =>
        {
            machine = MachineParts.Build(Accelerator, new MachineSpec { Image = GuestLibrary.ExitWith(5), MemoryBytes = TestMemory }, context.Console);
            var parts = MachineVm.Parts(machine);
            // A broken exit interpreter throws on the VmActor itself when the guest exits.
            return new VmParts
            {
                Vm = parts.Vm,
                ExitHandler = parts.ExitHandler,
                Vcpus = parts.Vcpus,
                Devices = parts.Devices,
                GuestMemory = parts.GuestMemory,
                InterpretExit = _ => throw new InvalidOperationException("interpreter bug"),
            };
        });
        node.Tell(new CreateVm(spec));
        var created = ExpectMsg<VmCreated>(Long);
        var events = CreateTestProbe();
        created.Vm.Tell(new SubscribeVm(events.Ref));
        ExpectMsg<VmSubscribed>();
        created.Vm.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);

        var steps = new List<TeardownStep>();
        VmOutcome outcome;
        while (true)
        {
            var e = events.ExpectMsg<VmEvent>(Long);
            if (e is VmTeardownStepped s) steps.Add(s.Step);
            if (e is VmEnded end)
            {
                outcome = end.Outcome;
                break;
            }
        }
        Assert.Equal(Enum.GetValues<TeardownStep>(), steps);
        Assert.Contains("interpreter bug", Assert.IsType<VmOutcome.Failed>(outcome).Reason);
        Assert.True(machine!.Memory.IsDisposed);

        AwaitAssert(() =>
        {
            node.Tell(ListVms.Instance);
            var vm = ExpectMsg<VmList>().Vms.Single();
            Assert.Equal(VmState.Failed, vm.State);
            Assert.Contains("interpreter bug", Assert.IsType<VmOutcome.Failed>(vm.Outcome).Reason);
        }, Long);
        node.Tell(new DestroyVm("crashy"));
        Assert.IsType<VmOutcome.Failed>(ExpectMsg<VmDestroyed>().Outcome);
        var next = CreateVm(node, "crashy", GuestLibrary.ExitWith(6));
        Start(next);
        Assert.Equal(new VmOutcome.Exited(6), ExpectEnded(next));
    }
}
