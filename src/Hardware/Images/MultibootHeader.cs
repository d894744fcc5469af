using System.Buffers.Binary;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// The multiboot v1 header of a kernel file: a 32-bit aligned structure within the file's first 8 KiB starting
/// with <see cref="Magic"/>, then flags and a checksum (the three sum to zero mod 2^32), then, when flag 16 is
/// set, the addresses to load it at (the "a.out kludge"; otherwise the kernel is an ELF file whose program
/// headers say). Field offsets follow the Multiboot Specification version 0.6.96, section 3.1.
/// </summary>
/// <param name="Offset">File offset of the magic.</param>
/// <param name="Flags">The flags word.</param>
/// <param name="Addresses">The address fields when flag 16 is set, else null.</param>
public sealed record MultibootHeader(int Offset, uint Flags, MultibootHeader.LoadAddresses? Addresses)
{
    /// <summary>The header's first dword.</summary>
    public const uint Magic = 0x1BAD_B002;

    /// <summary>What a multiboot loader leaves in EAX at the kernel's entry.</summary>
    public const uint BootloaderMagic = 0x2BAD_B002;

    /// <summary>The header must lie entirely within this many bytes from the file's start.</summary>
    public const int SearchBytes = 8192;

    /// <summary>Flag 0: load modules on page (4 KiB) boundaries (always done).</summary>
    public const uint FlagPageAlignModules = 1u << 0;

    /// <summary>Flag 1: pass memory information (always done).</summary>
    public const uint FlagMemoryInfo = 1u << 1;

    /// <summary>Flag 2: pass the video mode table (not supported: Actorvisor has no display).</summary>
    public const uint FlagVideoMode = 1u << 2;

    /// <summary>Flag 16: the address fields are valid and say where to load the kernel.</summary>
    public const uint FlagAddresses = 1u << 16;

    /// <summary>Requirement flags (bits 0-15) a loader must satisfy or refuse the kernel; those Actorvisor satisfies.</summary>
    public const uint SupportedRequirements = FlagPageAlignModules | FlagMemoryInfo;

    /// <summary>Bytes of magic, flags and checksum.</summary>
    public const int BaseSize = 12;

    /// <summary>Bytes up to and including entry_addr, needed when flag 16 is set.</summary>
    public const int SizeWithAddresses = 32;

    /// <summary>The a.out kludge's address fields (all guest-physical).</summary>
    /// <param name="HeaderAddress">header_addr: where the header's magic is loaded.</param>
    /// <param name="LoadAddress">load_addr: where the text segment starts.</param>
    /// <param name="LoadEndAddress">load_end_addr: where the data from the file ends (0: the file's end).</param>
    /// <param name="BssEndAddress">bss_end_addr: where the zeroed bss ends (0: no bss).</param>
    /// <param name="EntryAddress">entry_addr: the first instruction.</param>
    public sealed record LoadAddresses(uint HeaderAddress, uint LoadAddress, uint LoadEndAddress, uint BssEndAddress, uint EntryAddress);

    /// <summary>The offset of the first 4-byte aligned <see cref="Magic"/> within the first 8 KiB, or -1.</summary>
    public static int FindMagic(ReadOnlySpan<byte> file)
    {
        int limit = Math.Min(file.Length, SearchBytes) - 4;
        for (int at = 0; at <= limit; at += 4)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file[at..]) == Magic) return at;
        }
        return -1;
    }

    /// <summary>Finds and validates the header of <paramref name="file"/>.</summary>
    /// <param name="file">The kernel file (its first 8 KiB are enough).</param>
    /// <param name="name">The file's path for errors.</param>
    /// <exception cref="ImageLoadException">no header, a bad checksum, a truncated header, or requirements Actorvisor cannot meet.</exception>
    public static MultibootHeader Parse(ReadOnlySpan<byte> file, string name)
    {
        int at = FindMagic(file);
        if (at < 0)
            throw new ImageLoadException(name, $"not a multiboot kernel: the magic 0x{Magic:x8} is not at any 4-byte aligned offset of the first {SearchBytes} bytes");
        if (at + BaseSize > file.Length || at + BaseSize > SearchBytes)
            throw new ImageLoadException(name, $"truncated multiboot header at offset 0x{at:x}: flags and checksum are missing");
        uint flags = U32(file, at + 4), checksum = U32(file, at + 8);
        if (unchecked(Magic + flags + checksum) != 0)
            throw new ImageLoadException(name,
                $"bad multiboot header checksum at offset 0x{at:x}: magic 0x{Magic:x8} + flags 0x{flags:x8} + checksum 0x{checksum:x8} is 0x{unchecked(Magic + flags + checksum):x8}, not 0");
        if ((flags & FlagVideoMode) != 0)
            throw new ImageLoadException(name, "the multiboot header requires a video mode (flag 2); Actorvisor has no display");
        uint unknown = flags & 0xffff & ~SupportedRequirements & ~FlagVideoMode;
        if (unknown != 0)
            throw new ImageLoadException(name, $"the multiboot header requires features Actorvisor does not know (flags 0x{unknown:x4} among bits 0-15)");
        LoadAddresses? addresses = null;
        if ((flags & FlagAddresses) != 0)
        {
            if (at + SizeWithAddresses > file.Length)
                throw new ImageLoadException(name, $"truncated multiboot header at offset 0x{at:x}: flag 16 is set but the file ends before the address fields");
            addresses = new LoadAddresses(U32(file, at + 12), U32(file, at + 16), U32(file, at + 20), U32(file, at + 24), U32(file, at + 28));
        }
        return new MultibootHeader(at, flags, addresses);
    }

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
