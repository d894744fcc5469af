using System.Text.Json;
using System.Text.Json.Serialization;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The manifest of a snapshot (<see cref="SnapshotFormat.ManifestFile"/>): the format version, the accelerator kind the
/// state belongs to, the VM's shape (vCPUs, memory regions, devices) and the size and SHA-256 of every other file.
/// </summary>
public sealed record SnapshotManifest
{
    /// <summary>The format version (<see cref="SnapshotFormat.Version"/> when written by this build).</summary>
    public required int FormatVersion { get; init; }

    /// <summary>The accelerator kind the vCPU and platform states are of ("Software", "Kvm").</summary>
    public required string Accelerator { get; init; }

    /// <summary>The name of the VM the snapshot was taken of.</summary>
    public required string VmName { get; init; }

    /// <summary>What ran in it (the image's name).</summary>
    public required string Image { get; init; }

    /// <summary>When the snapshot was taken (UTC).</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>The vCPU state files, by vCPU index.</summary>
    public required IReadOnlyList<string> Vcpus { get; init; }

    /// <summary>The platform state file.</summary>
    public required string Platform { get; init; }

    /// <summary>
    /// The platform the machine was built as (<see cref="X86.GuestPlatform"/>: "Minimal" or "Pc"); a restore builds the
    /// same one (on KVM the PC platform's in-kernel chipset must exist before the vCPUs). Manifests written before this
    /// field existed are of the minimal platform.
    /// </summary>
    public string MachinePlatform { get; init; } = nameof(X86.GuestPlatform.Minimal);

    /// <summary>Guest memory: one region per memslot.</summary>
    public required IReadOnlyList<SnapshotMemoryEntry> Memory { get; init; }

    /// <summary>The devices whose state was saved.</summary>
    public required IReadOnlyList<SnapshotDeviceEntry> Devices { get; init; }

    /// <summary>
    /// The VM's virtio-blk disks, in device order: not copied (the image is the user's file) but named, with what the
    /// image was when the snapshot was taken, so that a restore over a changed image is refused. Manifests written before
    /// this field existed have none.
    /// </summary>
    public IReadOnlyList<SnapshotDiskEntry> Disks { get; init; } = [];

    /// <summary>Every file but the manifest: its size and SHA-256 (lowercase hex).</summary>
    public required IReadOnlyDictionary<string, SnapshotFileEntry> Files { get; init; }

    /// <summary>Guest RAM in bytes (all regions).</summary>
    [JsonIgnore]
    public ulong MemoryBytes => Memory.Aggregate(0UL, (sum, m) => sum + m.Size);

    /// <summary>The manifest's JSON options: camelCase, indented.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The manifest as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses a manifest.</summary>
    /// <exception cref="JsonException">not a manifest.</exception>
    public static SnapshotManifest FromJson(string json) =>
        JsonSerializer.Deserialize<SnapshotManifest>(json, JsonOptions) ?? throw new JsonException("the manifest is null");
}

/// <summary>One memory region of a snapshot: memslot <paramref name="Slot"/> at <paramref name="GuestPhysicalAddress"/>, <paramref name="Size"/> bytes, in <paramref name="File"/>.</summary>
/// <param name="Slot">The memslot id.</param>
/// <param name="GuestPhysicalAddress">Where the region starts.</param>
/// <param name="Size">Bytes; the memory file is exactly this long (sparse).</param>
/// <param name="File">The memory file.</param>
/// <param name="PagesWritten">Pages holding data (the others are holes and read as zero).</param>
public sealed record SnapshotMemoryEntry(uint Slot, ulong GuestPhysicalAddress, ulong Size, string File, ulong PagesWritten);

/// <summary>
/// Virtio-blk disk <paramref name="Device"/> (vda, vdb, ...; its transport's state is device state under that name): the
/// image at host path <paramref name="Path"/>, read-only or not, and its size and modification time when the snapshot
/// was taken (after an fsync).
/// </summary>
/// <param name="Device">The device name.</param>
/// <param name="Path">The image file, an absolute host path.</param>
/// <param name="ReadOnly">True if the guest could only read it.</param>
/// <param name="Bytes">The image's length.</param>
/// <param name="ModifiedUnixNanoseconds">Its modification time (nanoseconds since the Unix epoch).</param>
public sealed record SnapshotDiskEntry(string Device, string Path, bool ReadOnly, long Bytes, long ModifiedUnixNanoseconds)
{
    /// <summary>The identity recorded.</summary>
    [JsonIgnore]
    public Native.FileIdentity Identity => new(Bytes, ModifiedUnixNanoseconds);
}

/// <summary>The saved state of device <paramref name="Name"/>, in <paramref name="File"/>.</summary>
public sealed record SnapshotDeviceEntry(string Name, string File);

/// <summary>
/// A file's size in bytes and checksum (lowercase hex): with <paramref name="Digest"/> null the SHA-256 of the whole file,
/// with <see cref="MemoryFileDigest.Scheme"/> that scheme (memory files: SHA-256 over the 1 MiB chunks' SHA-256s).
/// </summary>
public sealed record SnapshotFileEntry(ulong Bytes, string Sha256, string? Digest = null);
