using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// The image of a machine restored from saved state (a snapshot, or a live migration's stream): it names what ran in
/// the saved VM and its shape, for listings and the machine's spec. Its memory comes from the saved pages, so it is
/// never loaded.
/// </summary>
public sealed class RestoredGuestImage : IBootableImage
{
    /// <summary>The image of a machine restored from <paramref name="manifest"/>.</summary>
    public RestoredGuestImage(SnapshotManifest manifest)
        : this(manifest.Image, manifest.Vcpus.Count, $"restored from a snapshot of {manifest.VmName}", SnapshotReader.PlatformOf(manifest))
    {
    }

    /// <summary>The image of a machine that ran <paramref name="originalImage"/> on <paramref name="vcpuCount"/> vCPUs on <paramref name="platform"/>; <paramref name="origin"/> says where it came from.</summary>
    public RestoredGuestImage(string originalImage, int vcpuCount, string origin, GuestPlatform platform = GuestPlatform.Minimal)
    {
        OriginalImage = originalImage;
        Platform = platform;
        VcpuCount = vcpuCount;
        Name = $"{originalImage} ({origin})";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The name of the image the saved VM ran.</summary>
    public string OriginalImage { get; }

    /// <summary>The mode is whatever the saved vCPUs were in; the field is only the spec's.</summary>
    public BootMode BootMode => BootMode.Real;

    /// <summary>The platform the snapshotted machine was built as (a snapshot manifest's <see cref="SnapshotManifest.MachinePlatform"/>; a migration's is Minimal for now).</summary>
    public GuestPlatform Platform { get; }

    /// <inheritdoc />
    public int VcpuCount { get; }

    /// <inheritdoc />
    public ulong MinimumMemoryBytes => 0;

    /// <summary>Refuses: a restored machine's memory is the snapshot's, not an image's.</summary>
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        throw new ImageLoadException(Name, "a snapshot is restored with SnapshotRestore, not loaded as an image");
}
