using System.Security.Cryptography;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Snapshots;

/// <summary>
/// Snapshot and restore on the software accelerator without actors: the counter guest is stopped at a line
/// boundary, snapshotted, restored in each mode, and must print the rest of its sequence with no gap and no repeat.
/// </summary>
public sealed class SnapshotRoundTripTests : IDisposable
{
    private const int Lines = 40, StopAfter = 10, Ballast = 64;
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-snap-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs vCPU 0 of <paramref name="parts"/> until the guest exits, or (with <paramref name="stopAfterLines"/>) until it wrote that many lines.</summary>
    internal static VcpuExit RunCounter(MachineParts parts, CapturingConsoleSink console, int? stopAfterLines = null)
    {
        var handler = new LineStopper(parts.Bus, console, stopAfterLines);
        while (true)
        {
            var exit = parts.Vcpus[0].Run(handler);
            if (exit is VcpuExit.PortIo { Port: GuestLibrary.PortIoLoopPort } && stopAfterLines is not null) return exit;
            if (exit is VcpuExit.PortIo { Port: DebugExitDevice.DefaultPort }) return exit;
            if (exit is not VcpuExit.Interrupted) throw new Xunit.Sdk.XunitException($"unexpected exit {exit}; console: {console.Text}");
        }
    }

    /// <summary>A counter machine stopped after <see cref="StopAfter"/> lines, snapshotted into a new directory; returns it and the console so far.</summary>
    internal static (string Directory, string Console, string MemorySha) SnapshotCounter(IAccelerator accelerator, string parent, string name = "snap")
    {
        var console = new CapturingConsoleSink();
        using var parts = MachineParts.Build(accelerator, new MachineSpec { Image = GuestLibrary.Counter(Lines, Ballast), MemoryBytes = 8 << 20 }, console);
        RunCounter(parts, console, StopAfter);
        var memory = new byte[parts.Memory.Size];
        parts.Memory.Read(0, memory);
        var result = new SnapshotWriter().Write(Path.Join(parent, name), SnapshotContent.Of(parts, "counter-vm"));
        return (result.Directory, console.Text, MemoryFileDigest.Of(memory));
    }

    [Theory]
    [InlineData(RestoreMode.Eager)]
    [InlineData(RestoreMode.Mmap)]
    [InlineData(RestoreMode.Lazy)]
    public void A_restored_counter_continues_its_sequence_with_no_gap_and_no_repeat(RestoreMode mode)
    {
        var (snapshot, before, memorySha) = SnapshotCounter(_accelerator, _dir);
        Assert.Equal(string.Concat(Enumerable.Range(0, StopAfter).Select(n => GuestLibrary.CounterLine((uint)n))), before);

        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        var console = new CapturingConsoleSink();
        using var restored = SnapshotRestore.Build(_accelerator, reader, mode, console);
        if (mode != RestoreMode.Lazy)
        {
            // The restored memory is the snapshotted memory, byte for byte, before the guest runs again.
            var memory = new byte[restored.Memory.Size];
            restored.Memory.Read(0, memory);
            Assert.Equal(memorySha, MemoryFileDigest.Of(memory));
        }
        Assert.Equal(memorySha, reader.Manifest.Files[SnapshotFormat.MemoryFile(0)].Sha256);

        var exit = RunCounter(restored, console);
        Assert.Equal(0, restored.DebugExit.ResultCode);
        Assert.IsType<VcpuExit.PortIo>(exit);
        Assert.Equal(GuestLibrary.Counter(Lines).ExpectedConsole, before + console.Text);
        if (mode == RestoreMode.Lazy)
        {
            // The rest of the run touches its code, its stack and the counter's page, not the ballast: only those are fetched.
            var lazy = restored.LazyMemory!;
            var written = reader.Manifest.Memory.Single(m => m.Slot == 0).PagesWritten;
            Assert.True(written >= Ballast, $"the snapshot wrote {written} pages");
            Assert.InRange(lazy.PresentPages, 1, 8);
            Assert.True(lazy.PresentPages < (long)written / 8, $"{lazy.PresentPages} pages fetched of {written} written");
        }
    }

    [Fact]
    public void Guest_memory_is_written_sparse_only_pages_holding_data()
    {
        var (snapshot, _, _) = SnapshotCounter(_accelerator, _dir);
        var manifest = SnapshotReader.Open(snapshot, AcceleratorKind.Software).Manifest;
        var ram = manifest.Memory.Single(m => m.Slot == 0);
        Assert.Equal(8UL << 20, ram.Size);
        // Ballast, the counter page, the image, the boot structures and the stack: far fewer than the 2048 pages of RAM.
        Assert.InRange(ram.PagesWritten, (ulong)Ballast + 2, 200UL);
        ulong onDisk = SnapshotWriter.BytesOnDisk(snapshot);
        Assert.True(onDisk < ram.Size / 4, $"{onDisk} bytes on disk for {ram.Size} bytes of RAM");
        Assert.Equal((long)ram.Size, new FileInfo(Path.Join(snapshot, ram.File)).Length);
    }

    [Fact]
    public void A_restore_of_a_restored_vm_snapshotted_again_continues_too()
    {
        var (snapshot, before, _) = SnapshotCounter(_accelerator, _dir);
        var console = new CapturingConsoleSink();
        using var restored = SnapshotRestore.Build(_accelerator, SnapshotReader.Open(snapshot, AcceleratorKind.Software), RestoreMode.Lazy, console);
        RunCounter(restored, console, StopAfter + 5);
        // A lazily restored VM: pages it never touched come from the first snapshot's file.
        var second = new SnapshotWriter().Write(Path.Join(_dir, "second"), SnapshotContent.Of(restored, "counter-vm-2")).Directory;
        var console2 = new CapturingConsoleSink();
        using var again = SnapshotRestore.Build(_accelerator, SnapshotReader.Open(second, AcceleratorKind.Software), RestoreMode.Eager, console2);
        RunCounter(again, console2);
        Assert.Equal(GuestLibrary.Counter(Lines).ExpectedConsole, before + console.Text + console2.Text);
        Assert.Equal("counter", SnapshotReader.Open(second, AcceleratorKind.Software).Manifest.Image);
    }

    private sealed class LineStopper(DeviceBus bus, CapturingConsoleSink console, int? stopAfterLines) : IExitHandler
    {
        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (port == GuestLibrary.PortIoLoopPort && stopAfterLines is { } n && console.Text.Count(c => c == '\n') >= n) return ExitAction.Stop;
            return action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);
    }
}
