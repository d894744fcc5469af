using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Snapshots;

/// <summary>
/// The partial directories a snapshot is written into: held by the writer until the rename (a sweep leaves them), removed
/// by a sweep once nobody holds them (what a crash mid-write leaves), never confused with a snapshot or another entry.
/// </summary>
public sealed class PartialSnapshotDirectoriesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-partial-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose()
    {
        _accelerator.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void A_sweep_during_a_write_leaves_the_writers_directory_and_the_snapshot_completes()
    {
        using var parts = MachineParts.Build(_accelerator, new MachineSpec { Image = GuestLibrary.Hello(), MemoryBytes = 16UL << 20 }, new CapturingConsoleSink());
        var sweeps = new List<(SnapshotWriteStep Step, string Partial, PartialSnapshotSweep Sweep)>();
        var writer = new SnapshotWriter
        {
            AfterStep = (step, partial) =>
            {
                if (step is SnapshotWriteStep.StateWritten or SnapshotWriteStep.ManifestWritten) sweeps.Add((step, partial, PartialSnapshotDirectories.RemoveAbandoned(_dir)));
            },
        };
        var written = writer.Write(Path.Join(_dir, "snap"), SnapshotContent.Of(parts, "vm"));

        Assert.Equal(2, sweeps.Count);
        foreach (var (_, partial, sweep) in sweeps)
        {
            Assert.True(PartialSnapshotDirectories.IsPartialName(Path.GetFileName(partial)), partial);
            AssertSweep(sweep, removed: [], inUse: [partial]);
        }
        var reader = SnapshotReader.Open(written.Directory, AcceleratorKind.Software);
        foreach (var region in reader.Manifest.Memory) reader.VerifyMemory(region);
        // Once written, nothing is partial: a sweep finds nothing, and the snapshot stays.
        AssertSweep(PartialSnapshotDirectories.RemoveAbandoned(_dir), removed: [], inUse: []);
        Assert.True(File.Exists(Path.Join(written.Directory, SnapshotFormat.ManifestFile)));
    }

    [Fact]
    public void A_sweep_removes_a_partial_directory_nobody_holds_and_nothing_else()
    {
        var abandoned = Directory.CreateDirectory(Path.Join(_dir, "snap" + SnapshotFormat.PartialSuffix + "0a1b2c3d")).FullName;
        File.WriteAllBytes(Path.Join(abandoned, "memory-0.bin"), new byte[8192]);
        var released = Directory.CreateDirectory(Path.Join(_dir, "other" + SnapshotFormat.PartialSuffix + "99999999")).FullName;
        PartialSnapshotDirectories.Hold(released).Dispose();
        var notOurs = Directory.CreateDirectory(Path.Join(_dir, "snap.partial-XYZ")).FullName;
        var file = Path.Join(_dir, "file" + SnapshotFormat.PartialSuffix + "0a1b2c3d");
        File.WriteAllText(file, "a file, not a snapshot directory");

        var sweep = PartialSnapshotDirectories.RemoveAbandoned(_dir);

        AssertSweep(sweep, removed: [abandoned, released], inUse: []);
        Assert.False(Directory.Exists(abandoned));
        Assert.False(Directory.Exists(released));
        Assert.True(Directory.Exists(notOurs));
        Assert.True(File.Exists(file));
        AssertSweep(PartialSnapshotDirectories.RemoveAbandoned(_dir), removed: [], inUse: []);
        Assert.Throws<IOException>(() =>
        {
            using var first = PartialSnapshotDirectories.Hold(notOurs);
            PartialSnapshotDirectories.Hold(notOurs).Dispose();
        });
    }

    private static void AssertSweep(PartialSnapshotSweep sweep, string[] removed, string[] inUse)
    {
        Assert.Equal(removed.Order(StringComparer.Ordinal), sweep.Removed.Order(StringComparer.Ordinal));
        Assert.Equal(inUse, sweep.InUse);
        Assert.Empty(sweep.Failed);
    }
}
