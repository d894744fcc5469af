using System.Buffers.Binary;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Reads the loadable segments of an x86 ELF executable of either class, ELF32 (i386) or ELF64 (x86-64), with
/// both their physical and virtual addresses: what a multiboot loader needs, which places segments at their
/// physical addresses and must translate a virtual entry point. Field offsets follow the System V ABI
/// (Elf32_Ehdr/Elf32_Phdr, Elf64_Ehdr/Elf64_Phdr). <see cref="ElfLoader"/> is the stricter ELF64-only path of
/// directly booted executables.
/// </summary>
public static class ElfSegments
{
    /// <summary>e_machine of i386.</summary>
    public const ushort MachineI386 = 3;

    /// <summary>One PT_LOAD segment.</summary>
    /// <param name="FileOffset">p_offset.</param>
    /// <param name="PhysicalAddress">p_paddr.</param>
    /// <param name="VirtualAddress">p_vaddr.</param>
    /// <param name="FileBytes">p_filesz.</param>
    /// <param name="MemoryBytes">p_memsz.</param>
    public sealed record Segment(ulong FileOffset, ulong PhysicalAddress, ulong VirtualAddress, ulong FileBytes, ulong MemoryBytes);

    /// <summary>A parsed executable.</summary>
    /// <param name="Is64Bit">ELFCLASS64.</param>
    /// <param name="Entry">e_entry as written (a virtual address).</param>
    /// <param name="Segments">The PT_LOAD segments with bytes in memory, in file order.</param>
    public sealed record Executable(bool Is64Bit, ulong Entry, IReadOnlyList<Segment> Segments)
    {
        /// <summary>
        /// The entry point as a physical address: e_entry translated through the segment whose virtual range holds
        /// it (a kernel linked to run high is entered where it was loaded), or e_entry itself if none does.
        /// </summary>
        public ulong PhysicalEntry
        {
            get
            {
                var s = Segments.FirstOrDefault(s => Entry >= s.VirtualAddress && Entry - s.VirtualAddress < s.MemoryBytes);
                return s is null ? Entry : Entry - s.VirtualAddress + s.PhysicalAddress;
            }
        }
    }

    /// <summary>True if <paramref name="file"/> starts with the ELF magic.</summary>
    public static bool HasElfMagic(ReadOnlySpan<byte> file) =>
        file.Length >= 4 && file[0] == 0x7f && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    /// <summary>Parses the ELF header and the PT_LOAD program headers of <paramref name="elf"/>.</summary>
    /// <exception cref="ImageLoadException">not a little-endian x86 ELF executable, or truncated or inconsistent.</exception>
    public static Executable Parse(ReadOnlySpan<byte> elf, string name)
    {
        if (!HasElfMagic(elf)) throw new ImageLoadException(name, "not an ELF file (the magic bytes 7f 45 4c 46 are missing)");
        if (elf.Length < 6) throw new ImageLoadException(name, $"truncated ELF header: the file has {elf.Length} bytes");
        bool is64 = elf[4] switch
        {
            1 => false,
            2 => true,
            _ => throw new ImageLoadException(name, $"unknown ELF class {elf[4]} (EI_CLASS: 1 for 32-bit, 2 for 64-bit)"),
        };
        int headerSize = is64 ? 64 : 52, phSize = is64 ? 56 : 32;
        if (elf.Length < headerSize)
            throw new ImageLoadException(name, $"truncated ELF header: the file has {elf.Length} bytes, the ELF{(is64 ? 64 : 32)} header needs {headerSize}");
        if (elf[5] != ElfLoader.ElfDataLittleEndian) throw new ImageLoadException(name, $"not a little-endian ELF file (EI_DATA is {elf[5]})");
        ushort type = U16(elf, 16), machine = U16(elf, 18);
        if (type != ElfLoader.TypeExecutable) throw new ImageLoadException(name, $"not an executable (e_type is {type}, expected ET_EXEC = {ElfLoader.TypeExecutable})");
        ushort expectedMachine = is64 ? ElfLoader.MachineX86_64 : MachineI386;
        if (machine != expectedMachine)
            throw new ImageLoadException(name, $"e_machine is {machine}; an ELF{(is64 ? 64 : 32)} kernel must be {(is64 ? "x86-64" : "i386")} ({expectedMachine})");
        ulong entry = is64 ? U64(elf, 24) : U32(elf, 24);
        ulong phoff = is64 ? U64(elf, 32) : U32(elf, 28);
        ushort phentsize = U16(elf, is64 ? 54 : 42), phnum = U16(elf, is64 ? 56 : 44);
        if (phnum == 0) throw new ImageLoadException(name, "the executable has no program headers");
        if (phentsize < phSize) throw new ImageLoadException(name, $"program header size e_phentsize is {phentsize}, needs at least {phSize}");
        ulong tableBytes = (ulong)phentsize * phnum;
        if (phoff > (ulong)elf.Length || tableBytes > (ulong)elf.Length - phoff)
            throw new ImageLoadException(name, $"truncated program header table: {phnum} entries of {phentsize} bytes at offset 0x{phoff:x} run past the end of the file ({elf.Length} bytes)");

        var segments = new List<Segment>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = elf.Slice((int)(phoff + (ulong)i * phentsize), phSize);
            if (U32(ph, 0) != ElfLoader.SegmentLoad) continue;
            ulong offset, vaddr, paddr, filesz, memsz;
            if (is64) (offset, vaddr, paddr, filesz, memsz) = (U64(ph, 8), U64(ph, 16), U64(ph, 24), U64(ph, 32), U64(ph, 40));
            else (offset, vaddr, paddr, filesz, memsz) = (U32(ph, 4), U32(ph, 8), U32(ph, 12), U32(ph, 16), U32(ph, 20));
            if (filesz > memsz) throw new ImageLoadException(name, $"program header {i}: p_filesz 0x{filesz:x} exceeds p_memsz 0x{memsz:x}");
            if (offset > (ulong)elf.Length || filesz > (ulong)elf.Length - offset)
                throw new ImageLoadException(name, $"truncated: program header {i}'s data 0x{offset:x}+0x{filesz:x} runs past the end of the file ({elf.Length} bytes)");
            if (paddr + memsz < paddr) throw new ImageLoadException(name, $"program header {i}: segment 0x{paddr:x}+0x{memsz:x} wraps around the address space");
            if (memsz > 0) segments.Add(new Segment(offset, paddr, vaddr, filesz, memsz));
        }
        if (segments.Count == 0) throw new ImageLoadException(name, "the executable has no PT_LOAD segment");
        return new Executable(is64, entry, segments);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
}
