using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// An image file on disk: owns its path, boot mode and vCPU count; each format (<see cref="FlatImageFile"/>,
/// <see cref="ElfImageFile"/>) says how it is loaded into guest RAM.
/// </summary>
public abstract class DiskImage : IBootableImage
{
    /// <summary>An image at <paramref name="path"/> for <paramref name="bootMode"/>, needing <paramref name="vcpuCount"/> vCPUs.</summary>
    protected DiskImage(string path, BootMode bootMode, int vcpuCount)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (vcpuCount < 1) throw new ArgumentOutOfRangeException(nameof(vcpuCount), vcpuCount, "an image needs at least one vCPU");
        Path = path;
        BootMode = bootMode;
        VcpuCount = vcpuCount;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Name => Path;

    /// <inheritdoc />
    public BootMode BootMode { get; }

    /// <inheritdoc />
    public int VcpuCount { get; }

    /// <inheritdoc />
    public ulong MinimumMemoryBytes => 0;

    /// <inheritdoc />
    public abstract LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null);
}
