using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The image of a machine restored from a snapshot: it names what ran in the snapshotted VM and its shape, for
/// listings and the machine's spec. Its memory comes from the snapshot's memory files, so it is never loaded.
/// </summary>
public sealed class RestoredGuestImage(SnapshotManifest manifest) : IBootableImage
{
    /// <inheritdoc />
    public string Name { get; } = $"{manifest.Image} (restored from a snapshot of {manifest.VmName})";

    /// <summary>The name of the image the snapshotted VM ran.</summary>
    public string OriginalImage { get; } = manifest.Image;

    /// <summary>The mode is whatever the saved vCPUs were in; the field is only the spec's.</summary>
    public BootMode BootMode => BootMode.Real;

    /// <summary>The platform the snapshotted machine was built as (the manifest's <see cref="SnapshotManifest.MachinePlatform"/>).</summary>
    public GuestPlatform Platform { get; } = SnapshotReader.PlatformOf(manifest);

    /// <inheritdoc />
    public int VcpuCount { get; } = manifest.Vcpus.Count;

    /// <inheritdoc />
    public ulong MinimumMemoryBytes => 0;

    /// <summary>Refuses: a restored machine's memory is the snapshot's, not an image's.</summary>
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        throw new ImageLoadException(Name, "a snapshot is restored with SnapshotRestore, not loaded as an image");
}
