using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// A flat binary file on disk, booted in <see cref="BootMode"/> at a load address (by default
/// <see cref="GuestLayout.DefaultLoadAddress"/> for the mode) that is also its entry point.
/// </summary>
public sealed class FlatImageFile : IBootableImage
{
    /// <summary>A flat image at <paramref name="path"/> for <paramref name="bootMode"/>, needing <paramref name="vcpuCount"/> vCPUs.</summary>
    public FlatImageFile(string path, BootMode bootMode, int vcpuCount = 1)
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
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) =>
        FlatImageLoader.LoadFile(ram, Path, loadAddress ?? GuestLayout.DefaultLoadAddress(BootMode));
}
