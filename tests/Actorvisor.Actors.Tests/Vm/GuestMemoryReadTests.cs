using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Memory;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vm;

/// <summary>ReadGuestMemory: the host reads guest RAM through the VmActor while the VM holds it, and is told why when it cannot.</summary>
public class GuestMemoryReadTests(ITestOutputHelper output) : VmTestKit(output)
{
    private static VmError Refused(TestVm vm, VmRequestFailed failed)
    {
        Assert.Equal(vm.Name, failed.VmName);
        return failed.Error;
    }

    [Fact]
    public void A_created_vm_reads_back_the_image_loaded_into_its_ram()
    {
        var image = TestGuests.Spin();
        var vm = CreateVm(StartNode(), "created", image);

        var read = Ask<GuestMemoryRead>(vm, new ReadGuestMemory(image.LoadAddress, image.Bytes.Length));

        Assert.Equal(("created", image.LoadAddress), (read.VmName, read.Address));
        Assert.Equal(image.Bytes.ToArray(), read.Bytes);
    }

    [Fact]
    public void A_running_and_a_paused_vm_show_what_the_guest_and_the_host_wrote()
    {
        var vm = CreateVm(StartNode(), "live", TestGuests.StoreThenSpin());
        Start(vm);
        AwaitSpinning(vm); // the store comes before the loop

        var guestWrote = Ask<GuestMemoryRead>(vm, new ReadGuestMemory(TestGuests.DataAddress, 8)).Bytes;
        Assert.Equal(TestGuests.StoredValue, BitConverter.ToUInt32(guestWrote, 0));
        Assert.Equal(0u, BitConverter.ToUInt32(guestWrote, 4));

        Ask<VmTransitioned>(vm, PauseVm.Instance);
        var pattern = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7 + 3)).ToArray();
        vm.Machine.Memory.Write(0x30_0000, pattern);
        Assert.Equal(pattern, Ask<GuestMemoryRead>(vm, new ReadGuestMemory(0x30_0000, pattern.Length)).Bytes);

        Ask<VmTransitioned>(vm, ResumeVm.Instance);
        Assert.Equal(pattern, Ask<GuestMemoryRead>(vm, new ReadGuestMemory(0x30_0000, pattern.Length)).Bytes);
    }

    [Fact]
    public void A_read_may_span_adjacent_memslots_but_not_a_gap()
    {
        var vm = CreateVm(StartNode(), "slots", TestGuests.Spin());
        // The test owns this memory: a slot right after guest RAM, with bytes of its own.
        using var extra = HostMemory.Allocate(64 << 10);
        extra.Write(0, Enumerable.Repeat((byte)0xab, 16).ToArray());
        Ask<MemslotsPublished>(vm, new SetMemslot(Memslot.For(5, TestMemory, extra)));
        vm.Machine.Memory.Write(TestMemory - 16, Enumerable.Repeat((byte)0xcd, 16).ToArray());

        var across = Ask<GuestMemoryRead>(vm, new ReadGuestMemory(TestMemory - 16, 32)).Bytes;
        Assert.Equal([.. Enumerable.Repeat((byte)0xcd, 16), .. Enumerable.Repeat((byte)0xab, 16)], across);

        ulong end = TestMemory + (64 << 10);
        var gap = Assert.IsType<VmError.GuestMemoryOutOfRange>(Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(end - 8, 16))));
        Assert.Equal(end, gap.FirstUnbacked);
        Assert.Equal($"guest memory [0x{end - 8:x}, 0x{end + 8:x}) is not all RAM: no memslot holds 0x{end:x} (RAM: [0x0, 0x{TestMemory:x}), [0x{TestMemory:x}, 0x{end:x}))", gap.Message);
        var far = Assert.IsType<VmError.GuestMemoryOutOfRange>(Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(0x8000_0000, 4))));
        Assert.Equal(0x8000_0000UL, far.FirstUnbacked);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(ReadGuestMemory.MaxLength + 1)]
    public void Lengths_outside_1_to_16_MiB_are_refused(int length)
    {
        var vm = CreateVm(StartNode(), "lengths", TestGuests.Spin());

        var error = Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(0, length)));

        Assert.Equal(new VmError.MemoryReadLengthInvalid(length, ReadGuestMemory.MaxLength), error);
        Assert.Equal($"length: {length} is not in 1..16777216 bytes", error.Message);
    }

    [Fact]
    public void All_of_ram_is_read_in_one_reply_and_16_MiB_is_a_valid_length()
    {
        var vm = CreateVm(StartNode(), "largest", TestGuests.Spin());
        // 16 MiB of a 4 MiB VM: accepted as a length, refused as a range at the end of RAM.
        var tooFar = Assert.IsType<VmError.GuestMemoryOutOfRange>(Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(0, ReadGuestMemory.MaxLength))));
        Assert.Equal(TestMemory, tooFar.FirstUnbacked);
        Assert.Equal((int)TestMemory, Ask<GuestMemoryRead>(vm, new ReadGuestMemory(0, (int)TestMemory)).Bytes.Length);
    }

    [Fact]
    public void A_stopping_vm_refuses_reads_and_an_ended_one_says_its_memory_is_unmapped()
    {
        var gate = new GateDevice();
        var vm = CreateVm(StartNode(), "ending", TestGuests.OutThenSpin(), m =>
        {
            m.Bus.RegisterPorts(TestGuests.ProbePort, 1, gate);
            return [new VmDevice(gate.Name, gate)];
        });
        Start(vm);
        Assert.True(gate.Entered.Wait(Long), "the guest reached the gate");

        // The vCPU is held in the device, so the teardown cannot get past stopping the vCPUs.
        vm.Vm.Tell(StopVm.Instance);
        vm.Events.FishForMessage<VmStateChanged>(s => s.To == VmState.Stopping, Long);
        Assert.Equal(new VmError.NotAccepting(VmState.Stopping), Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(0, 16))));

        gate.Open.Set();
        ExpectMsg<VmStopped>(Long);
        var gone = Refused(vm, Ask<VmRequestFailed>(vm, new ReadGuestMemory(0, 16)));
        Assert.Equal(new VmError.GuestMemoryUnmapped(VmState.Stopped), gone);
        Assert.Equal("the VM is Stopped: its guest memory has been unmapped", gone.Message);
    }
}
