using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vm;

/// <summary>Destroying a VM runs kvm_destroy_vm's steps in order, each observable.</summary>
public class TeardownTests(ITestOutputHelper output) : VmTestKit(output)
{
    private static readonly TeardownStep[] AllSteps = Enum.GetValues<TeardownStep>();

    private static List<TeardownStep> Steps(IEnumerable<VmEvent> events) => events.OfType<VmTeardownStepped>().Select(s => s.Step).ToList();

    [Fact]
    public void Stopping_a_running_vm_runs_every_teardown_step_in_order_then_reports_the_end()
    {
        var node = StartNode();
        var gate = new GateDevice();
        var vm = CreateVm(node, "running", TestGuests.Spin(vcpus: 2), m => [new VmDevice(gate.Name, gate)]);
        Start(vm);

        vm.Vm.Tell(StopVm.Instance);
        var events = EventsUntilEnd(vm);
        Assert.Equal(new VmStopped("running", new VmOutcome.StoppedOnRequest()), ExpectMsg<VmStopped>(Long));

        Assert.Equal(AllSteps, Steps(events));
        // The state goes to Stopping before the first step and to Stopped after the last one.
        var order = events.Select(e => e switch
        {
            VmStateChanged s => $"state:{s.To}",
            VmTeardownStepped t => $"step:{t.Step}",
            VmEnded => "ended",
            _ => null,
        }).Where(s => s is not null).ToList();
        Assert.Equal(
            ["state:Running", "state:Stopping", .. AllSteps.Select(s => $"step:{s}"), "state:Stopped", "ended"],
            order);
        Assert.True(gate.IsDisposed, "devices are released");
        Assert.True(vm.Machine.Memory.IsDisposed, "guest memory is unmapped");
    }

    [Fact]
    public void Teardown_waits_for_a_pause_in_flight_and_refuses_what_arrives_while_stopping()
    {
        var node = StartNode();
        var vm = CreateVm(node, "busy", TestGuests.Spin(vcpus: 2));
        Start(vm);
        var pauser = CreateTestProbe();
        var stopper = CreateTestProbe();
        var late = CreateTestProbe();
        vm.Vm.Tell(PauseVm.Instance, pauser.Ref);
        vm.Vm.Tell(StopVm.Instance, stopper.Ref);
        vm.Vm.Tell(ResumeVm.Instance, late.Ref);

        // The pause in flight completes; the stop follows; the resume queued behind them is refused.
        Assert.Equal(VmState.Paused, pauser.ExpectMsg<VmTransitioned>(Long).State);
        Assert.Equal(new VmOutcome.StoppedOnRequest(), stopper.ExpectMsg<VmStopped>(Long).Outcome);
        Assert.Equal(new VmError.NotAccepting(VmState.Stopping), late.ExpectMsg<VmRequestFailed>(Long).Error);
        Assert.Equal(AllSteps, Steps(EventsUntilEnd(vm)));
    }

    [Fact]
    public void A_vcpu_thread_held_in_a_device_is_waited_for_before_anything_is_released()
    {
        var node = StartNode();
        var gate = new GateDevice();
        var vm = CreateVm(node, "held", TestGuests.OutThenSpin(), m =>
        {
            m.Bus.RegisterPorts(TestGuests.ProbePort, 1, gate);
            return [new VmDevice(gate.Name, gate)];
        });
        string? releasedWhileInside = null;
        gate.Leaving = () => releasedWhileInside = gate.IsDisposed ? "the device" : vm.Machine.Memory.IsDisposed ? "the guest memory" : null;
        Start(vm);
        Assert.True(gate.Entered.Wait(Long), "the vCPU thread entered the device");

        vm.Vm.Tell(StopVm.Instance);
        // The VM refuses requests at once, but cannot get past stopping the vCPUs while one is inside the device.
        // The check that decides is made by the thread itself as it leaves (releasedWhileInside below), so it holds
        // however late this test runs; the 300 ms hold is only the time a teardown that does not wait is given to
        // show itself, and no load can turn a correct teardown into a failure here.
        vm.Events.FishForMessage<VmTeardownStepped>(s => s.Step == TeardownStep.StopAcceptingRequests, Long);
        vm.Events.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.False(gate.IsDisposed);
        Assert.False(vm.Machine.Memory.IsDisposed);

        gate.Open.Set();
        var rest = EventsUntilEnd(vm);
        Assert.Equal(AllSteps.Skip(1), Steps(rest));
        Assert.Null(releasedWhileInside);
        Assert.True(gate.IsDisposed);
        Assert.True(vm.Machine.Memory.IsDisposed);
        ExpectMsg<VmStopped>(Long);
    }

    [Fact]
    public void Destroying_through_the_node_tears_down_removes_the_vm_and_frees_its_name()
    {
        var node = StartNode();
        var vm = CreateVm(node, "doomed", TestGuests.Spin());
        Start(vm);
        node.Tell(new DestroyVm("doomed"));
        Assert.Equal(new VmDestroyed("doomed", new VmOutcome.StoppedOnRequest()), ExpectMsg<VmDestroyed>(Long));
        Assert.Equal(AllSteps, Steps(EventsUntilEnd(vm)));
        node.Tell(ListVms.Instance);
        Assert.Empty(ExpectMsg<VmList>().Vms);

        var again = CreateVm(node, "doomed", GuestLibrary.ExitWith(3));
        Start(again);
        Assert.Equal(new VmOutcome.Exited(3), ExpectEnded(again));
    }
}
