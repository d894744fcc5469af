using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// An image file on disk: owns its path (or the already-open <see cref="ConfinedFile"/> it is read through),
/// boot mode and vCPU count; each format (<see cref="FlatImageFile"/>, <see cref="ElfImageFile"/>) says how it
/// is loaded into guest RAM. An image made from a <see cref="ConfinedFile"/> never opens a path again: every
/// load reads that descriptor; disposing the image closes it.
/// </summary>
public abstract class DiskImage : IBootableImage, IDisposable
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

    /// <summary>An image read through the open <paramref name="file"/>, which it takes ownership of.</summary>
    protected DiskImage(ConfinedFile file, BootMode bootMode, int vcpuCount) : this(file?.Path!, bootMode, vcpuCount)
    {
        File = file;
    }

    /// <summary>The file's path (for an image from a <see cref="ConfinedFile"/>, its path for messages only).</summary>
    public string Path { get; }

    /// <summary>The open file the image is read through, or null if it is read from <see cref="Path"/>.</summary>
    public ConfinedFile? File { get; }

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

    /// <summary>The file's bytes, read through <see cref="File"/> when there is one.</summary>
    /// <exception cref="ImageLoadException">the file cannot be read or is too large.</exception>
    protected byte[] ReadBytes() => File is { } file ? ImageFile.ReadAll(file) : ImageFile.ReadAll(Path);

    /// <summary>Closes <see cref="File"/>, if any.</summary>
    public void Dispose()
    {
        File?.Dispose();
        DisposeOtherFiles();
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes any other open files the format read beside <see cref="File"/> (none by default).</summary>
    protected virtual void DisposeOtherFiles()
    {
    }
}
