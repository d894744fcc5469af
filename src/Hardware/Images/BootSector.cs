using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Loads a PC boot sector: 512 bytes ending in the signature 0x55 0xAA, copied to 0x7c00 and entered there in
/// real mode at CS:IP 0000:7c00 with DL = 0x80 (the first hard disk) and SP just below the sector, as a PC
/// BIOS hands over. A longer file (a disk image) has only its first sector loaded, as a BIOS does.
/// </summary>
public static class BootSector
{
    /// <summary>Bytes in a boot sector.</summary>
    public const int Size = 512;

    /// <summary>Where a BIOS loads the boot sector and jumps to it.</summary>
    public const ulong LoadAddress = 0x7c00;

    /// <summary>DL at entry: the BIOS drive number of the first hard disk.</summary>
    public const byte BootDrive = 0x80;

    /// <summary>The last two bytes of a boot sector.</summary>
    public static ReadOnlySpan<byte> Signature => [0x55, 0xAA];

    /// <summary>True if <paramref name="file"/> is exactly one sector ending in the signature (what format detection accepts).</summary>
    public static bool IsBootSector(ReadOnlySpan<byte> file) => file.Length == Size && file[(Size - 2)..].SequenceEqual(Signature);

    /// <summary>
    /// Copies the first sector of <paramref name="file"/> to <paramref name="loadAddress"/> (default 0x7c00); the
    /// entry is the load address, DL = 0x80 and the stack top the load address.
    /// </summary>
    /// <exception cref="ImageLoadException">the file is shorter than a sector, lacks the signature, or the address is unusable.</exception>
    public static LoadedImage Load(HostMemory ram, ReadOnlySpan<byte> file, string name, ulong? loadAddress = null)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (file.Length < Size)
            throw new ImageLoadException(name, $"truncated boot sector: the file has {file.Length} bytes, a boot sector {Size}");
        if (!file[(Size - 2)..Size].SequenceEqual(Signature))
            throw new ImageLoadException(name, $"not a boot sector: bytes 510-511 are {file[Size - 2]:x2} {file[Size - 1]:x2}, the boot signature is 55 aa");
        ulong at = loadAddress ?? LoadAddress;
        if (at < GuestLayout.RealModeLowestLoad || at + Size > GuestLayout.RealModeImageEnd)
            throw new ImageLoadException(name,
                $"a boot sector loaded at 0x{at:x} would not lie within [0x{GuestLayout.RealModeLowestLoad:x}, 0x{GuestLayout.RealModeImageEnd:x}), the real-mode memory an image may use");
        var loaded = FlatImageLoader.Load(ram, file[..Size], at, name);
        return loaded with { Handoff = new BootHandoff { Rdx = BootDrive, StackTop = at } };
    }
}
