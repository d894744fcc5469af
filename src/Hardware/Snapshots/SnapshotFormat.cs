namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The on-disk layout of a snapshot directory: its format version and the names of its files. A snapshot is a
/// directory holding <see cref="ManifestFile"/> (written last) and the files it lists with their SHA-256.
/// </summary>
public static class SnapshotFormat
{
    /// <summary>The format this build writes and reads.</summary>
    public const int Version = 1;

    /// <summary>The manifest: JSON, the last file written, the first read.</summary>
    public const string ManifestFile = "manifest.json";

    /// <summary>The VM-wide state (<c>IVirtualMachine.SavePlatformState</c>).</summary>
    public const string PlatformFile = "platform.state";

    /// <summary>Where a snapshot is written before it is renamed into place: the target's name plus this and a random suffix.</summary>
    public const string PartialSuffix = ".partial-";

    /// <summary>The memory file of memslot <paramref name="slot"/>: a sparse file, page N at offset N * 4096.</summary>
    public static string MemoryFile(uint slot) => $"memory-{slot}.bin";

    /// <summary>The state file of vCPU <paramref name="id"/>.</summary>
    public static string VcpuFile(int id) => $"vcpu-{id}.state";

    /// <summary>The state file of device <paramref name="name"/> (its name escaped to letters, digits, '-' and '_').</summary>
    public static string DeviceFile(string name) =>
        $"device-{new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')])}.state";
}
