using System.Buffers.Binary;
using System.Text;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// The multiboot v1 information structure Actorvisor hands a kernel in EBX, and everything it points at, laid
/// out as one block: the structure (flags, mem_lower/mem_upper, cmdline, mods, mmap, boot_loader_name), then
/// the memory map, the module list and the NUL-terminated strings. Field offsets follow the Multiboot
/// Specification version 0.6.96, section 3.3. The memory map is a PC's: conventional memory up to the EBDA, the
/// legacy hole to 1 MiB reserved, RAM from 1 MiB, the MMIO window reserved.
/// </summary>
public static class MultibootInfo
{
    /// <summary>Offset of flags.</summary>
    public const int FlagsOffset = 0;
    /// <summary>Offset of mem_lower (KiB from 0).</summary>
    public const int MemLowerOffset = 4;
    /// <summary>Offset of mem_upper (KiB from 1 MiB).</summary>
    public const int MemUpperOffset = 8;
    /// <summary>Offset of cmdline (address of a C string).</summary>
    public const int CmdlineOffset = 16;
    /// <summary>Offset of mods_count.</summary>
    public const int ModsCountOffset = 20;
    /// <summary>Offset of mods_addr.</summary>
    public const int ModsAddrOffset = 24;
    /// <summary>Offset of mmap_length (bytes).</summary>
    public const int MmapLengthOffset = 44;
    /// <summary>Offset of mmap_addr.</summary>
    public const int MmapAddrOffset = 48;
    /// <summary>Offset of boot_loader_name.</summary>
    public const int BootLoaderNameOffset = 64;
    /// <summary>Bytes given to the structure (the specification's 116, rounded up; the rest zero).</summary>
    public const int StructureBytes = 0x80;

    /// <summary>flags bit 0: mem_lower and mem_upper are valid.</summary>
    public const uint HasMemory = 1u << 0;
    /// <summary>flags bit 2: cmdline is valid.</summary>
    public const uint HasCommandLine = 1u << 2;
    /// <summary>flags bit 3: mods_count and mods_addr are valid.</summary>
    public const uint HasModules = 1u << 3;
    /// <summary>flags bit 6: mmap_length and mmap_addr are valid.</summary>
    public const uint HasMemoryMap = 1u << 6;
    /// <summary>flags bit 9: boot_loader_name is valid.</summary>
    public const uint HasBootLoaderName = 1u << 9;
    /// <summary>The flags Actorvisor always sets.</summary>
    public const uint Flags = HasMemory | HasCommandLine | HasModules | HasMemoryMap | HasBootLoaderName;

    /// <summary>Bytes of one memory map entry: the size field (which says 20) and base, length, type.</summary>
    public const int MemoryMapEntryBytes = 24;
    /// <summary>Bytes of one module entry: mod_start, mod_end, string, reserved.</summary>
    public const int ModuleEntryBytes = 16;
    /// <summary>Memory map type of usable RAM.</summary>
    public const uint TypeAvailable = 1;
    /// <summary>Memory map type of reserved space.</summary>
    public const uint TypeReserved = 2;

    /// <summary>End of conventional memory, where a PC's extended BIOS data area starts (639 KiB).</summary>
    public const ulong ConventionalMemoryEnd = 0x9_fc00;
    /// <summary>Start of extended memory (1 MiB).</summary>
    public const ulong ExtendedMemoryBase = 0x10_0000;

    /// <summary>What boot_loader_name points at.</summary>
    public const string BootLoaderName = "Actorvisor";

    /// <summary>One memory map entry.</summary>
    /// <param name="Base">base_addr.</param>
    /// <param name="Length">length in bytes.</param>
    /// <param name="Type">1 available, 2 reserved.</param>
    public sealed record MemoryRange(ulong Base, ulong Length, uint Type);

    /// <summary>One loaded module as the structure lists it.</summary>
    /// <param name="Start">mod_start.</param>
    /// <param name="End">mod_end (one past the last byte).</param>
    /// <param name="CommandLine">The module's string.</param>
    public sealed record Module(ulong Start, ulong End, string CommandLine);

    /// <summary>The memory map for <paramref name="ramBytes"/> of guest RAM from address 0 (at least 1 MiB).</summary>
    public static IReadOnlyList<MemoryRange> MemoryMap(ulong ramBytes) =>
    [
        new(0, ConventionalMemoryEnd, TypeAvailable),
        new(ConventionalMemoryEnd, ExtendedMemoryBase - ConventionalMemoryEnd, TypeReserved),
        new(ExtendedMemoryBase, ramBytes - ExtendedMemoryBase, TypeAvailable),
        new(GuestLayout.MmioWindowBase, GuestLayout.MmioWindowEnd - GuestLayout.MmioWindowBase, TypeReserved),
    ];

    /// <summary>Bytes of the block for this command line and these module strings.</summary>
    public static int BlockBytes(string commandLine, IEnumerable<string> moduleStrings)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var strings = moduleStrings.ToList();
        return StructureBytes + 4 * MemoryMapEntryBytes + strings.Count * ModuleEntryBytes
            + CString(commandLine).Length + CString(BootLoaderName).Length + strings.Sum(s => CString(s).Length);
    }

    /// <summary>
    /// The block for a kernel in <paramref name="ramBytes"/> of RAM, to be written at <paramref name="baseAddress"/>
    /// (every pointer in it is absolute); the structure itself is its first <see cref="StructureBytes"/>.
    /// </summary>
    public static byte[] Build(ulong baseAddress, ulong ramBytes, string commandLine, IReadOnlyList<Module> modules)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(modules);
        if (ramBytes < ExtendedMemoryBase) throw new ArgumentOutOfRangeException(nameof(ramBytes), $"0x{ramBytes:x} bytes of RAM is less than 1 MiB");
        var block = new byte[BlockBytes(commandLine, modules.Select(m => m.CommandLine))];
        if (baseAddress + (ulong)block.Length > 0x1_0000_0000)
            throw new ArgumentOutOfRangeException(nameof(baseAddress), $"the multiboot information at 0x{baseAddress:x} would reach above 4 GiB");
        var span = block.AsSpan();
        var map = MemoryMap(ramBytes);
        int mmapAt = StructureBytes, modsAt = mmapAt + map.Count * MemoryMapEntryBytes, stringsAt = modsAt + modules.Count * ModuleEntryBytes;

        int next = stringsAt;
        uint Str(string s)
        {
            var bytes = CString(s);
            bytes.CopyTo(block, next);
            uint address = (uint)(baseAddress + (ulong)next);
            next += bytes.Length;
            return address;
        }

        Put(span, FlagsOffset, Flags);
        Put(span, MemLowerOffset, (uint)(ConventionalMemoryEnd / 1024));
        Put(span, MemUpperOffset, (uint)((ramBytes - ExtendedMemoryBase) / 1024));
        Put(span, CmdlineOffset, Str(commandLine));
        Put(span, ModsCountOffset, (uint)modules.Count);
        Put(span, ModsAddrOffset, (uint)(baseAddress + (ulong)modsAt));
        Put(span, MmapLengthOffset, (uint)(map.Count * MemoryMapEntryBytes));
        Put(span, MmapAddrOffset, (uint)(baseAddress + (ulong)mmapAt));
        Put(span, BootLoaderNameOffset, Str(BootLoaderName));
        for (int i = 0; i < map.Count; i++)
        {
            var entry = span[(mmapAt + i * MemoryMapEntryBytes)..];
            Put(entry, 0, MemoryMapEntryBytes - 4);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[4..], map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[12..], map[i].Length);
            Put(entry, 20, map[i].Type);
        }
        for (int i = 0; i < modules.Count; i++)
        {
            var entry = span[(modsAt + i * ModuleEntryBytes)..];
            Put(entry, 0, (uint)modules[i].Start);
            Put(entry, 4, (uint)modules[i].End);
            Put(entry, 8, Str(modules[i].CommandLine));
        }
        return block;
    }

    private static byte[] CString(string s) => [.. Encoding.UTF8.GetBytes(s), 0];

    private static void Put(Span<byte> span, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(span[at..], value);
}
