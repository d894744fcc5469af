using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>An ELF64 x86-64 executable on disk (see <see cref="ElfLoader"/>), booted in long mode unless told otherwise.</summary>
public sealed class ElfImageFile : IBootableImage
{
    /// <summary>An ELF image at <paramref name="path"/>.</summary>
    public ElfImageFile(string path, BootMode bootMode = BootMode.Long, int vcpuCount = 1)
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
    /// <exception cref="ImageLoadException">also when a load address is given: ELF segments carry their own addresses.</exception>
    public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null)
    {
        if (loadAddress is { } a)
            throw new ImageLoadException(Path, $"an ELF executable is loaded at its program headers' addresses; a load address (0x{a:x}) cannot be given");
        return ElfLoader.LoadFile(ram, Path);
    }
}
