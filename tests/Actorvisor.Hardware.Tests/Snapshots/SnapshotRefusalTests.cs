using System.Text.Json.Nodes;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Snapshots;

/// <summary>Snapshots that must not restore: each refusal names the file at fault, and nothing is built.</summary>
public sealed class SnapshotRefusalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-snap-refuse-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Snapshot() => SnapshotRoundTripTests.SnapshotCounter(_accelerator, _dir).Directory;

    private static void EditManifest(string snapshot, Action<JsonObject> edit)
    {
        var path = Path.Join(snapshot, SnapshotFormat.ManifestFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    private static SnapshotException Refused(string snapshot, RestoreMode mode = RestoreMode.Eager) =>
        Assert.Throws<SnapshotException>(() =>
        {
            var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
            using var parts = SnapshotRestore.Build(new SoftAccelerator(), reader, mode, new CapturingConsoleSink());
        });

    [Fact]
    public void A_wrong_format_version_is_refused_naming_the_manifest()
    {
        var snapshot = Snapshot();
        EditManifest(snapshot, m => m["formatVersion"] = 99);
        var e = Refused(snapshot);
        Assert.Equal(Path.Join(snapshot, SnapshotFormat.ManifestFile), e.FilePath);
        Assert.Contains("version 99", e.Message);
        Assert.Contains(e.FilePath, e.Message);
    }

    [Fact]
    public void A_snapshot_of_another_accelerator_is_refused()
    {
        var snapshot = Snapshot();
        var e = Assert.Throws<SnapshotException>(() => SnapshotReader.Open(snapshot, AcceleratorKind.Kvm));
        Assert.Contains("Software accelerator", e.Message);
        Assert.Contains("Kvm", e.Message);
        Assert.Equal(Path.Join(snapshot, SnapshotFormat.ManifestFile), e.FilePath);
    }

    [Fact]
    public void A_corrupt_vcpu_state_is_refused_by_its_checksum()
    {
        var snapshot = Snapshot();
        var path = Path.Join(snapshot, SnapshotFormat.VcpuFile(0));
        var bytes = File.ReadAllBytes(path);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var e = Refused(snapshot, RestoreMode.Lazy);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void A_corrupt_memory_file_is_refused_by_an_eager_restore()
    {
        var snapshot = Snapshot();
        var path = Path.Join(snapshot, SnapshotFormat.MemoryFile(0));
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            // A byte of the counter guest's code page (the image at 1 MiB).
            var b = new byte[1];
            RandomAccess.Read(f, b, 0x10_0000);
            b[0] ^= 0xff;
            RandomAccess.Write(f, b, 0x10_0000);
        }
        var e = Refused(snapshot, RestoreMode.Eager);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void A_byte_written_into_a_hole_of_the_memory_file_is_refused_by_an_eager_restore()
    {
        var snapshot = Snapshot();
        var path = Path.Join(snapshot, SnapshotFormat.MemoryFile(0));
        var manifest = SnapshotReader.Open(snapshot, AcceleratorKind.Software).Manifest;
        // The last page of RAM: the counter guest never writes there, so it is a hole that SEEK_DATA skips until it holds data.
        long last = (long)manifest.Memory.Single(m => m.Slot == 0).Size - 1;
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.False(SparseFile.HasData(f, last & ~0xfffL, 4096), "the last page is a hole before the write");
            RandomAccess.Write(f, new byte[] { 1 }, last);
        }
        var e = Refused(snapshot, RestoreMode.Eager);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void A_memory_file_listed_with_a_whole_file_sha256_as_older_snapshots_have_restores_and_is_checked()
    {
        var snapshot = Snapshot();
        var path = Path.Join(snapshot, SnapshotFormat.MemoryFile(0));
        var whole = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        EditManifest(snapshot, m =>
        {
            var entry = m["files"]![SnapshotFormat.MemoryFile(0)]!.AsObject();
            Assert.Equal(MemoryFileDigest.Scheme, (string?)entry["digest"]);
            entry.Remove("digest");
            entry["sha256"] = whole;
        });
        var reader = SnapshotReader.Open(snapshot, AcceleratorKind.Software);
        using (var parts = SnapshotRestore.Build(new SoftAccelerator(), reader, RestoreMode.Eager, new CapturingConsoleSink()))
            Assert.Equal(whole, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(parts.Memory.Span(0, (int)parts.Memory.Size))));
        EditManifest(snapshot, m => m["files"]![SnapshotFormat.MemoryFile(0)]!["sha256"] = new string('0', 64));
        Assert.Contains("checksum mismatch", Refused(snapshot, RestoreMode.Eager).Message);
    }

    [Theory]
    [InlineData(RestoreMode.Eager)]
    [InlineData(RestoreMode.Lazy)]
    [InlineData(RestoreMode.Mmap)]
    public void A_truncated_memory_file_is_refused_in_every_mode(RestoreMode mode)
    {
        var snapshot = Snapshot();
        var path = Path.Join(snapshot, SnapshotFormat.MemoryFile(0));
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write)) f.SetLength(f.Length / 2);
        var e = Refused(snapshot, mode);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void A_missing_manifest_is_refused()
    {
        var snapshot = Snapshot();
        File.Delete(Path.Join(snapshot, SnapshotFormat.ManifestFile));
        var e = Refused(snapshot);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_snapshot_is_never_written_over_an_existing_directory()
    {
        var snapshot = Snapshot();
        var e = Assert.Throws<SnapshotException>(() => SnapshotRoundTripTests.SnapshotCounter(_accelerator, _dir));
        Assert.Equal(snapshot, e.FilePath);
        Assert.Contains("already exists", e.Message);
    }

    [Fact]
    public void A_write_interrupted_at_any_step_leaves_nothing_that_validates()
    {
        var target = Path.Join(_dir, "interrupted");
        var seen = new List<SnapshotWriteStep>();
        var console = new CapturingConsoleSink();
        using var parts = MachineParts.Build(_accelerator,
            new MachineSpec { Image = GuestLibrary.Counter(40, 8), MemoryBytes = 8 << 20 }, console);
        SnapshotRoundTripTests.RunCounter(parts, console, 3);
        var writer = new SnapshotWriter
        {
            // What a kill -9 right after each step leaves on disk is the partial directory as it is now.
            AfterStep = (step, partial) =>
            {
                seen.Add(step);
                if (step == SnapshotWriteStep.Renamed) return;
                Assert.False(Path.Exists(target), $"the final name exists after {step}");
                Assert.Contains(SnapshotFormat.PartialSuffix, partial);
                Assert.Throws<SnapshotException>(() => SnapshotReader.Open(target, AcceleratorKind.Software));
                if (step != SnapshotWriteStep.ManifestWritten)
                    Assert.Throws<SnapshotException>(() => SnapshotReader.Open(partial, AcceleratorKind.Software));
            },
        };
        writer.Write(target, SnapshotContent.Of(parts, "interrupted"));
        Assert.Equal(Enum.GetValues<SnapshotWriteStep>(), seen);
        SnapshotReader.Open(target, AcceleratorKind.Software);

        // A writer that dies between steps (here: throws after the memory files) leaves no final name behind.
        var crashed = Path.Join(_dir, "crashed");
        var dying = new SnapshotWriter
        {
            AfterStep = (step, _) =>
            {
                if (step == SnapshotWriteStep.MemoryWritten) throw new IOException("disk gone");
            },
        };
        var e = Assert.Throws<SnapshotException>(() => dying.Write(crashed, SnapshotContent.Of(parts, "crashed")));
        Assert.Contains("disk gone", e.Message);
        Assert.False(Path.Exists(crashed));
        Assert.Empty(Directory.EnumerateDirectories(_dir, "crashed*"));
    }
}
