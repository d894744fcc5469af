using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vm;

/// <summary>The VM lifecycle with real guests: Created -> Running -> Stopping -> Stopped | Failed.</summary>
public class VmLifecycleTests(ITestOutputHelper output) : VmTestKit(output)
{
    [Fact]
    public void A_guest_that_prints_and_exits_streams_its_console_and_stops_with_its_result_code()
    {
        var node = StartNode();
        var vm = CreateVm(node, "hello", GuestLibrary.Hello());
        Start(vm);
        var events = EventsUntilEnd(vm);

        Assert.Equal(GuestLibrary.HelloText, Console(events));
        Assert.Equal(new VmOutcome.Exited(0), events.OfType<VmEnded>().Single().Outcome);
        Assert.Equal(
            [(VmState.Created, VmState.Running), (VmState.Running, VmState.Stopping), (VmState.Stopping, VmState.Stopped)],
            events.OfType<VmStateChanged>().Select(s => (s.From, s.To)));
        var description = Ask<VmDescription>(vm, GetVmDescription.Instance);
        Assert.Equal((VmState.Stopped, new VmOutcome.Exited(0)), (description.State, description.Outcome));
    }

    [Fact]
    public void The_result_code_written_to_the_debug_exit_port_is_the_outcome()
    {
        var node = StartNode();
        var vm = CreateVm(node, "exit-42", GuestLibrary.ExitWith(42));
        Start(vm);
        Assert.Equal(new VmOutcome.Exited(42), ExpectEnded(vm));
    }

    [Fact]
    public void A_guest_that_halts_every_vcpu_stops_as_halted()
    {
        var node = StartNode();
        var vm = CreateVm(node, "halt", GuestLibrary.Halt());
        Start(vm);
        Assert.Equal(new VmOutcome.Halted(), ExpectEnded(vm));
        Assert.Equal(VmState.Stopped, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
    }

    [Fact]
    public void A_triple_fault_fails_the_vm_with_the_reason_and_leaves_the_node_serving()
    {
        var node = StartNode();
        var vm = CreateVm(node, "faulty", GuestLibrary.TripleFault());
        Start(vm);
        var failed = Assert.IsType<VmOutcome.Failed>(ExpectEnded(vm));
        Assert.Contains("vcpu 0", failed.Reason);
        Assert.Contains("shutdown", failed.Reason);

        node.Tell(ListVms.Instance);
        var listed = ExpectMsg<VmList>().Vms.Single();
        Assert.Equal(("faulty", VmState.Failed), (listed.Name, listed.State));
        var again = CreateVm(node, "after-fault", GuestLibrary.ExitWith(7));
        Start(again);
        Assert.Equal(new VmOutcome.Exited(7), ExpectEnded(again));
    }

    [Fact]
    public void Invalid_transitions_are_refused_with_a_typed_error()
    {
        var node = StartNode();
        var vm = CreateVm(node, "spinner", TestGuests.Spin());

        Assert.Equal(new VmError.InvalidTransition(VmState.Created, "pause"), Ask<VmRequestFailed>(vm, PauseVm.Instance).Error);
        Assert.Equal(new VmError.InvalidTransition(VmState.Created, "resume"), Ask<VmRequestFailed>(vm, ResumeVm.Instance).Error);
        Start(vm);
        Assert.Equal(new VmError.InvalidTransition(VmState.Running, "start"), Ask<VmRequestFailed>(vm, StartVm.Instance).Error);
        Assert.Equal(new VmError.InvalidTransition(VmState.Running, "resume"), Ask<VmRequestFailed>(vm, ResumeVm.Instance).Error);
        Assert.Equal(VmState.Paused, Ask<VmTransitioned>(vm, PauseVm.Instance).State);
        Assert.Equal(new VmError.InvalidTransition(VmState.Paused, "pause"), Ask<VmRequestFailed>(vm, PauseVm.Instance).Error);
        Assert.Equal(new VmError.InvalidTransition(VmState.Paused, "start"), Ask<VmRequestFailed>(vm, StartVm.Instance).Error);

        Assert.Equal(new VmOutcome.StoppedOnRequest(), Ask<VmStopped>(vm, StopVm.Instance).Outcome);
        Assert.Equal(new VmError.NotAccepting(VmState.Stopped), Ask<VmRequestFailed>(vm, ResumeVm.Instance).Error);
        Assert.Equal(new VmError.NotAccepting(VmState.Stopped), Ask<VmRequestFailed>(vm, new GetRegisters(0)).Error);
        Assert.Equal(new VmOutcome.StoppedOnRequest(), Ask<VmStopped>(vm, StopVm.Instance).Outcome); // idempotent
    }

    [Fact]
    public void A_created_vm_that_is_stopped_before_it_ran_tears_down_cleanly()
    {
        var node = StartNode();
        var vm = CreateVm(node, "never-ran", GuestLibrary.Hello());
        Assert.Equal(new VmOutcome.StoppedOnRequest(), Ask<VmStopped>(vm, StopVm.Instance).Outcome);
        Assert.True(vm.Machine.Memory.IsDisposed);
        Assert.Equal("", Console(EventsUntilEnd(vm)));
    }
}
