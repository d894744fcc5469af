using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>An ELF64 x86-64 executable on disk (see <see cref="ElfLoader"/>), booted in long mode unless told otherwise.</summary>
public sealed class ElfImageFile : DiskImage
{
    /// <summary>The executable at <paramref name="path"/> (opened when loaded).</summary>
    public ElfImageFile(string path, BootMode bootMode = BootMode.Long, int vcpuCount = 1) : base(path, bootMode, vcpuCount)
    {
    }

    /// <summary>The executable read through the open <paramref name="file"/> (owned by the image from now on).</summary>
    public ElfImageFile(ConfinedFile file, BootMode bootMode = BootMode.Long, int vcpuCount = 1) : base(file, bootMode, vcpuCount)
    {
    }

    /// <inheritdoc />
    /// <exception cref="ImageLoadException">also when a load address is given: ELF segments carry their own addresses.</exception>
    public override LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null)
    {
        if (loadAddress is { } a)
            throw new ImageLoadException(Path, $"an ELF executable is loaded at its program headers' addresses; a load address (0x{a:x}) cannot be given");
        return ElfLoader.Load(ram, ReadBytes(), Path);
    }
}
