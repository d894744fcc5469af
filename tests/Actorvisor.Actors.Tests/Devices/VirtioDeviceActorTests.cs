using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Actors.Tests.Devices;

/// <summary>
/// A virtio-blk disk in an actor-run VM: its VirtioDeviceActor serves the queue. The transport has the actor as its
/// notification sink from the actor's start, and a transport with a sink never serves on the notifying (vCPU)
/// thread, so the guest getting its three answers means the actor served them.
/// </summary>
public sealed class VirtioDeviceActorTests : IDisposable
{
    private readonly IAccelerator _accelerator = TestAccelerator.Create();
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-virtio-actor-").FullName;

    public void Dispose()
    {
        _accelerator.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_device_actor_serves_a_guest_driving_a_virtio_disk()
    {
        var disk = Path.Combine(_dir, "disk.img");
        var image = new byte[8 * VirtioBlock.SectorSize];
        BitConverter.TryWriteBytes(image.AsSpan((int)VirtioGuests.ReadSector * VirtioBlock.SectorSize), 0xfeed_f00du);
        File.WriteAllBytes(disk, image);
        MachineParts? parts = null;
        var spec = MachineVm.Spec("virtio", _accelerator,
            new MachineSpec { Image = VirtioGuests.BlockDriver(), MemoryBytes = 4UL << 20, Disks = [new VirtioDiskSpec { Path = disk }] },
            addDevices: p =>
            {
                parts = p;
                return [];
            });
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-virtio");
        var console = new System.Text.StringBuilder();
        // The guest needs a few milliseconds; the bound only catches a hang on a loaded machine.
        var outcome = await runtime.RunVmAsync(spec, e =>
        {
            if (e is VmConsoleOutput output) console.Append(output.Text);
        }, TimeSpan.FromSeconds(60));

        Assert.Equal(new VmOutcome.Exited(0), outcome);
        Assert.Equal("virtio-blk read=feedf00d ok\n", console.ToString());
        var transport = Assert.Single(parts!.Virtio.Transports);
        var block = (VirtioBlock)transport.Device;
        Assert.Equal((1, 1, 1), (block.Reads, block.Writes, block.Flushes));
        Assert.Equal(VirtioGuests.WrittenPattern, BitConverter.ToUInt32(File.ReadAllBytes(disk), (int)VirtioGuests.WrittenSector * VirtioBlock.SectorSize));
    }

    [NetNamespaceFact]
    public async Task The_device_actor_serves_a_guest_driving_a_virtio_net_card_and_the_frames_of_its_tap()
    {
        var tap = $"ava{Guid.NewGuid():N}"[..12];
        using var ns = Hardware.Native.NetworkNamespace.Create();
        MachineParts? parts = null;
        var spec = MachineVm.Spec("virtio-net", _accelerator,
            new MachineSpec { Image = VirtioGuests.NetArpDriver(), MemoryBytes = 4UL << 20, Nets = [new VirtioNetSpec { Tap = tap }] },
            addDevices: p =>
            {
                parts = p;
                // The machine made the tap; its host side goes into the test's namespace (the guest repeats its request until then).
                ns.Adopt(tap, "10.234.0.1/24");
                return [];
            });
        await using var runtime = ActorvisorRuntime.Start(new NodeCapacity(4, 1UL << 30), "runtime-virtio-net");
        var console = new System.Text.StringBuilder();
        // The guest needs well under a second; the bound only catches a hang on a loaded machine.
        var outcome = await runtime.RunVmAsync(spec, e =>
        {
            if (e is VmConsoleOutput output) console.Append(output.Text);
        }, TimeSpan.FromSeconds(60));

        Assert.Equal(new VmOutcome.Exited(0), outcome);
        Assert.Equal("virtio-net arp reply from 0100ea0a\n", console.ToString());
        var card = (VirtioNet)Assert.Single(parts!.Virtio.Transports).Device;
        Assert.Equal(1, card.FramesReceived);
        Assert.True(card.FramesTransmitted >= 1);
    }
}
