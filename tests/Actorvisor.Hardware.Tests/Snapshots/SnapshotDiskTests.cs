using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Snapshots;

/// <summary>
/// A VM with a virtio-blk disk snapshotted in the middle of its driver's work, on the software accelerator: the transport
/// and queue state is device state, the image is named with its size and modification time, and a restore over an
/// image that changed (or is gone) is refused naming it.
/// </summary>
public sealed class SnapshotDiskTests : IDisposable
{
    private const int Sectors = 16;
    // The driver's whole run takes well under a second here; a restored device that lost its queue leaves the guest
    // spinning on the used ring forever, which this bound turns into a failure.
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-snap-disk-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Disk => Path.Join(_dir, "disk.img");

    private void MakeDisk()
    {
        var bytes = new byte[Sectors * VirtioBlock.SectorSize];
        for (int s = 0; s < Sectors; s++)
            for (int d = 0; d < VirtioBlock.SectorSize / 4; d++) BitConverter.TryWriteBytes(bytes.AsSpan(s * VirtioBlock.SectorSize + d * 4), 0x1000_0000 + s);
        File.WriteAllBytes(Disk, bytes);
    }

    /// <summary>The block driver stopped right after its first request (the read) was served, snapshotted; returns the snapshot and the console so far.</summary>
    private (string Snapshot, string Console) SnapshotAfterFirstRequest()
    {
        MakeDisk();
        var console = new CapturingConsoleSink();
        var spec = new MachineSpec { Image = VirtioGuests.BlockDriver(), Disks = [new VirtioDiskSpec { Path = Disk }] };
        using var parts = MachineParts.Build(_accelerator, spec, console);
        var handler = new NotifyStopper(parts.Bus);
        Drive(parts, handler, () => handler.Notifications == 1);
        var block = (VirtioBlock)parts.Virtio.Transports[0].Device;
        Assert.Equal((1, 0, 0), (block.Reads, block.Writes, block.Flushes));
        var snapshot = new SnapshotWriter().Write(Path.Join(_dir, "snap"), SnapshotContent.Of(parts, "disk-vm")).Directory;
        return (snapshot, console.Text);
    }

    // Runs vCPU 0 until done() holds after an exit, on a worker so that a guest spinning forever fails the test instead of hanging it.
    private static void Drive(MachineParts parts, IExitHandler handler, Func<bool> done)
    {
        var vcpu = parts.Vcpus[0];
        var run = Task.Factory.StartNew(() =>
        {
            while (!done())
            {
                var exit = vcpu.Run(handler);
                if (exit is VcpuExit.InternalError or VcpuExit.Shutdown) throw new Xunit.Sdk.XunitException($"the guest failed: {exit}");
            }
        }, TaskCreationOptions.LongRunning);
        if (!run.Wait(RunBound))
        {
            vcpu.Kick();
            run.Wait(RunBound);
            Assert.Fail($"the guest did not get there within {RunBound.TotalSeconds} s");
        }
        run.GetAwaiter().GetResult();
    }

    [Theory]
    [InlineData(RestoreMode.Eager)]
    [InlineData(RestoreMode.Mmap)]
    public void A_restored_block_driver_finishes_its_requests_on_the_restored_device(RestoreMode mode)
    {
        var (snapshot, before) = SnapshotAfterFirstRequest();
        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        var disk = Assert.Single(reader.Manifest.Disks);
        Assert.Equal(("vda", Path.GetFullPath(Disk), false, (long)Sectors * VirtioBlock.SectorSize), (disk.Device, disk.Path, disk.ReadOnly, disk.Bytes));
        Assert.Contains(reader.Manifest.Devices, d => d.Name == "vda");

        var console = new CapturingConsoleSink();
        using var restored = SnapshotRestore.Build(_accelerator, reader, mode, console);
        var transport = Assert.Single(restored.Virtio.Transports);
        // The driver's negotiation and its queue came back: the next notification is served where the first left off.
        Assert.Equal(VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.Driver | VirtioDeviceStatus.Acknowledge, transport.Status);
        Assert.Equal((true, (ushort)1, (ushort)1), (transport.Queue(0).Ready, transport.Queue(0).LastAvailIndex, transport.Queue(0).UsedIndex));

        Drive(restored, new NotifyStopper(restored.Bus), () => restored.DebugExit.ResultCode is not null);
        Assert.Equal(0, restored.DebugExit.ResultCode);
        Assert.Equal("virtio-blk read=10000001 ok\n", before + console.Text);
        var block = (VirtioBlock)transport.Device;
        Assert.Equal((0, 1, 1), (block.Reads, block.Writes, block.Flushes));
        var written = File.ReadAllBytes(Disk);
        for (int d = 0; d < VirtioBlock.SectorSize / 4; d++)
            Assert.Equal(VirtioGuests.WrittenPattern, BitConverter.ToUInt32(written, (int)VirtioGuests.WrittenSector * VirtioBlock.SectorSize + d * 4));
    }

    [Fact]
    public void A_restore_over_a_disk_image_written_since_the_snapshot_is_refused_naming_the_image()
    {
        var (snapshot, _) = SnapshotAfterFirstRequest();
        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        // Same size, other bytes: only the modification time tells.
        using (var f = new FileStream(Disk, FileMode.Open, FileAccess.Write))
        {
            f.Position = 5 * VirtioBlock.SectorSize;
            f.WriteByte(0xEE);
        }
        File.SetLastWriteTimeUtc(Disk, File.GetLastWriteTimeUtc(Disk).AddSeconds(1));

        var e = Assert.Throws<SnapshotException>(() => SnapshotRestore.Build(_accelerator, reader, RestoreMode.Eager, new CapturingConsoleSink()));
        Assert.Equal(Path.GetFullPath(Disk), e.FilePath);
        Assert.Contains("changed since the snapshot", e.Message);
    }

    [Fact]
    public void A_restore_whose_disk_image_is_gone_is_refused_naming_the_image()
    {
        var (snapshot, _) = SnapshotAfterFirstRequest();
        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        File.Delete(Disk);

        var e = Assert.Throws<SnapshotException>(() => SnapshotRestore.Build(_accelerator, reader, RestoreMode.Mmap, new CapturingConsoleSink()));
        Assert.Equal(Path.GetFullPath(Disk), e.FilePath);
        Assert.Contains("cannot be opened", e.Message);
    }

    [Fact]
    public void A_transport_state_of_another_device_kind_is_refused()
    {
        var (snapshot, _) = SnapshotAfterFirstRequest();
        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        using var restored = SnapshotRestore.Build(_accelerator, reader, RestoreMode.Eager, new CapturingConsoleSink());
        var state = restored.Virtio.Transports[0].SaveState();
        // The blob: 4-byte tag, 4-byte version, then the device type (2, virtio-blk) as the first field.
        Assert.Equal(VirtioBlock.BlockDeviceType, BitConverter.ToUInt32(state, 8));
        state[8] = 1;
        var e = Assert.Throws<FormatException>(() => restored.Virtio.Transports[0].RestoreState(state));
        Assert.Contains("type 1", e.Message);
    }

    /// <summary>The machine's bus, stopping the vCPU after each queue notification the transport served.</summary>
    private sealed class NotifyStopper(DeviceBus bus) : IExitHandler
    {
        public int Notifications { get; private set; }

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data) => bus.OnPortIo(port, direction, data);

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
        {
            var action = bus.OnMmio(gpa, isWrite, data);
            if (!isWrite || gpa != VirtioMmioLayout.AddressOf(0) + VirtioMmioRegister.QueueNotify) return action;
            Notifications++;
            return ExitAction.Stop;
        }
    }
}
