using System.Buffers.Binary;

namespace Actorvisor.Hardware.Images.Linux;

/// <summary>
/// Builds the boot_params "zero page" a 64-bit Linux entry reads through RSI: the file's setup header copied to
/// offset 0x1f1, then what the loader fills in (type_of_loader, command line pointer, initrd address and size)
/// the e820 memory map (count at 0x1e8, table at 0x2d0) and the RSDP's address (acpi_rsdp_addr at 0x70; a kernel older
/// than boot protocol 2.14 ignores it and finds the RSDP by scanning 0xe0000-0xfffff).
/// </summary>
public static class LinuxBootParams
{
    /// <summary>Offset of e820_entries (u8).</summary>
    public const int E820EntriesOffset = 0x1e8;
    /// <summary>Offset of e820_table (up to <see cref="MaxE820Entries"/> entries of 20 bytes).</summary>
    public const int E820TableOffset = 0x2d0;
    /// <summary>The table's capacity (E820_MAX_ENTRIES_ZEROPAGE).</summary>
    public const int MaxE820Entries = 128;
    /// <summary>Offset of acpi_rsdp_addr (u64, boot protocol 2.14): where the kernel finds the RSDP without scanning for it.</summary>
    public const int AcpiRsdpAddressOffset = 0x070;
    /// <summary>Offset of type_of_loader.</summary>
    public const int TypeOfLoaderOffset = 0x210;
    /// <summary>Offset of ramdisk_image (u32).</summary>
    public const int RamdiskImageOffset = 0x218;
    /// <summary>Offset of ramdisk_size (u32).</summary>
    public const int RamdiskSizeOffset = 0x21c;
    /// <summary>Offset of cmd_line_ptr (u32).</summary>
    public const int CommandLinePointerOffset = 0x228;
    /// <summary>type_of_loader 0xff: a boot loader without an assigned id.</summary>
    public const byte UndefinedLoader = 0xff;

    /// <summary>
    /// The zero page for a kernel whose file starts with <paramref name="kernelFile"/> (the header is copied from it),
    /// with the command line at <paramref name="commandLineAddress"/>, the initrd (size 0: none), <paramref name="e820"/> and
    /// the RSDP at <paramref name="acpiRsdpAddress"/> (0: none given).
    /// </summary>
    public static byte[] Build(ReadOnlySpan<byte> kernelFile, LinuxSetupHeader header, ulong commandLineAddress,
        ulong initrdAddress, ulong initrdSize, IReadOnlyList<E820Entry> e820, ulong acpiRsdpAddress = 0)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(e820);
        if (e820.Count > MaxE820Entries) throw new ArgumentOutOfRangeException(nameof(e820), e820.Count, $"boot_params holds at most {MaxE820Entries} e820 entries");
        if (commandLineAddress > uint.MaxValue || initrdAddress > uint.MaxValue || initrdSize > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(initrdAddress), "the command line and the initrd must lie below 4 GiB (no ext_ fields are written)");
        var page = new byte[LinuxBootLayout.BootParamsSize];
        var span = page.AsSpan();
        kernelFile[LinuxSetupHeader.Offset..header.HeaderEnd].CopyTo(span[LinuxSetupHeader.Offset..]);
        span[TypeOfLoaderOffset] = UndefinedLoader;
        BinaryPrimitives.WriteUInt32LittleEndian(span[CommandLinePointerOffset..], (uint)commandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(span[RamdiskImageOffset..], (uint)initrdAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(span[RamdiskSizeOffset..], (uint)initrdSize);
        BinaryPrimitives.WriteUInt64LittleEndian(span[AcpiRsdpAddressOffset..], acpiRsdpAddress);
        span[E820EntriesOffset] = (byte)e820.Count;
        for (int i = 0; i < e820.Count; i++)
        {
            var entry = span.Slice(E820TableOffset + i * E820Entry.EncodedSize, E820Entry.EncodedSize);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, e820[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], e820[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], (uint)e820[i].Type);
        }
        return page;
    }
}
