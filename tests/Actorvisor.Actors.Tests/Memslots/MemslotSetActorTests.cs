using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Memory;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Memslots;

/// <summary>Memslot changes through the single writer, published to running vCPUs, retired after a grace period.</summary>
public class MemslotSetActorTests(ITestOutputHelper output) : VmTestKit(output)
{
    private const uint ExtraSlot = 7;

    private static (Memslot Slot, HostMemory Memory, DisposalFlag Backing) Extra()
    {
        var memory = HostMemory.Allocate(64 << 10);
        return (Memslot.For(ExtraSlot, TestGuests.StoreAddress, memory), memory, new DisposalFlag(memory));
    }

    [Fact]
    public void A_slot_added_while_the_guest_runs_is_used_by_the_guest()
    {
        var node = StartNode();
        var vm = CreateVm(node, "grow", TestGuests.SpinThenStore());
        Start(vm);
        AwaitSpinning(vm);
        // The test owns this memory (no backing to release), so it can read it after the VM ended.
        using var memory = HostMemory.Allocate(64 << 10);
        var slot = Memslot.For(ExtraSlot, TestGuests.StoreAddress, memory);

        var published = Ask<MemslotsPublished>(vm, new SetMemslot(slot));
        var snapshot = Ask<MemslotsSnapshot>(vm, GetMemslots.Instance).Memslots;
        Assert.Equal(published.Generation, snapshot.Generation);
        Assert.Equal([0u, ExtraSlot], snapshot.Slots.Select(s => s.Slot));

        Ask<VmTransitioned>(vm, PauseVm.Instance);
        var regs = Ask<VcpuRegisters>(vm, new GetRegisters(0)).Registers;
        regs.Rcx = TestGuests.ReleaseMagic;
        Ask<VcpuRegistersSet>(vm, new SetRegisters(0, regs));
        Ask<VmTransitioned>(vm, ResumeVm.Instance);
        Assert.Equal(new VmOutcome.Exited(TestGuests.ReleasedResultCode), ExpectEnded(vm));
        Assert.Equal(TestGuests.StoredValue, memory.Read<uint>(0));
    }

    [Fact]
    public void Deleting_a_slot_publishes_at_once_and_retires_it_after_every_vcpu_passed_a_quiescent_point()
    {
        var node = StartNode();
        var vm = CreateVm(node, "shrink", TestGuests.Spin(vcpus: 2));
        Start(vm);
        var (slot, _, backing) = Extra();
        var added = Ask<MemslotsPublished>(vm, new SetMemslot(slot, backing));

        vm.Vm.Tell(new DeleteMemslot(ExtraSlot));
        var deleted = ExpectMsg<MemslotsPublished>(Long);
        Assert.True(deleted.Generation > added.Generation);
        // Both vCPUs spin without exits: the writer kicks them through a quiescent point.
        var retired = ExpectMsg<MemslotsRetired>(Long);
        Assert.Equal(deleted.Generation, retired.Generation);
        Assert.Equal([ExtraSlot], retired.ReleasedSlots);
        Assert.True(backing.Disposed.IsSet);
        Assert.Equal([0u], Ask<MemslotsSnapshot>(vm, GetMemslots.Instance).Memslots.Slots.Select(s => s.Slot));
        Assert.Equal(VmState.Running, Ask<VmDescription>(vm, GetVmDescription.Instance).State);
    }

    [Fact]
    public void A_vcpu_inside_an_exit_handler_holds_back_retirement_until_it_leaves()
    {
        var node = StartNode();
        var gate = new GateDevice();
        var vm = CreateVm(node, "reader", TestGuests.OutThenSpin(), m =>
        {
            m.Bus.RegisterPorts(TestGuests.ProbePort, 1, gate);
            return [new VmDevice(gate.Name, gate)];
        });
        var (slot, _, backing) = Extra();
        bool? disposedWhileInside = null;
        gate.Leaving = () => disposedWhileInside = backing.Disposed.IsSet;
        Ask<MemslotsPublished>(vm, new SetMemslot(slot, backing));
        Start(vm);
        Assert.True(gate.Entered.Wait(Long), "the vCPU thread is inside the device (its memslot read side)");

        vm.Vm.Tell(new DeleteMemslot(ExtraSlot));
        // KVM publishes at once; the software accelerator's own memslot change already waits for the vCPU to
        // leave its engine. Either way nothing is retired while the vCPU may still hold the old snapshot. What
        // decides is the thread's own look at the backing as it leaves (disposedWhileInside), which no load can
        // move; the 300 ms is only the time a retirement that does not wait is given to show itself.
        var early = ReceiveWhile<object>(TimeSpan.FromMilliseconds(300), m => m);
        Assert.DoesNotContain(early, m => m is MemslotsRetired);
        Assert.False(backing.Disposed.IsSet, "the backing outlives every snapshot a vCPU may still hold");

        gate.Open.Set();
        var messages = new List<object>(early);
        while (messages.LastOrDefault() is not MemslotsRetired) messages.Add(ExpectMsg<object>(Long));
        Assert.Equal([typeof(MemslotsPublished), typeof(MemslotsRetired)], messages.Select(m => m.GetType()));
        Assert.Equal([ExtraSlot], ((MemslotsRetired)messages[1]).ReleasedSlots);
        Assert.False(disposedWhileInside);
        Assert.True(backing.Disposed.IsSet);
    }

    [Fact]
    public void An_overlapping_slot_is_refused_and_changes_nothing()
    {
        var node = StartNode();
        var vm = CreateVm(node, "overlap", TestGuests.Spin());
        using var memory = HostMemory.Allocate(64 << 10);
        var before = Ask<MemslotsSnapshot>(vm, GetMemslots.Instance).Memslots;
        var refused = Ask<MemslotRequestFailed>(vm, new SetMemslot(Memslot.For(3, 0x1000, memory)));
        Assert.Contains("overlaps memslot 0", refused.Reason);
        Assert.Equal(before.Generation, Ask<MemslotsSnapshot>(vm, GetMemslots.Instance).Memslots.Generation);
        Assert.Contains("does not exist", Ask<MemslotRequestFailed>(vm, new DeleteMemslot(42)).Reason);
    }

    [Fact]
    public void Teardown_retires_every_slot_before_guest_memory_is_unmapped()
    {
        var node = StartNode();
        var vm = CreateVm(node, "retire", TestGuests.Spin());
        var (slot, _, backing) = Extra();
        Ask<MemslotsPublished>(vm, new SetMemslot(slot, backing));
        Assert.Equal(2, Ask<VmDescription>(vm, GetVmDescription.Instance).MemslotCount);
        Start(vm);
        Ask<VmStopped>(vm, StopVm.Instance);

        Assert.Equal(0, Ask<VmDescription>(vm, GetVmDescription.Instance).MemslotCount);
        Assert.True(backing.Disposed.IsSet);
        Assert.True(vm.Machine.Memory.IsDisposed);
    }
}
