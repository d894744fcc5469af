using System.Buffers.Binary;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Images;

/// <summary>
/// Loads a static ELF64 x86-64 executable (ET_EXEC): each PT_LOAD segment is copied to its physical
/// address (p_paddr) and its bss (p_memsz beyond p_filesz) zeroed; the entry point is e_entry.
/// Actorvisor's long-mode page tables are an identity map, so an executable must be linked with its
/// virtual addresses equal to its physical ones; p_vaddr is not used for placement.
/// Field offsets follow the System V ABI's ELF-64 object file format (Elf64_Ehdr, Elf64_Phdr).
/// </summary>
public static class ElfLoader
{
    /// <summary>Size of the ELF64 file header.</summary>
    public const int HeaderSize = 64;
    /// <summary>Size of one ELF64 program header.</summary>
    public const int ProgramHeaderSize = 56;
    /// <summary>EI_CLASS value for 64-bit objects.</summary>
    public const byte ElfClass64 = 2;
    /// <summary>EI_DATA value for little-endian objects.</summary>
    public const byte ElfDataLittleEndian = 1;
    /// <summary>e_type of an executable.</summary>
    public const ushort TypeExecutable = 2;
    /// <summary>e_machine of x86-64.</summary>
    public const ushort MachineX86_64 = 62;
    /// <summary>p_type of a loadable segment.</summary>
    public const uint SegmentLoad = 1;

    /// <summary>One PT_LOAD segment of a parsed executable.</summary>
    /// <param name="FileOffset">p_offset.</param>
    /// <param name="PhysicalAddress">p_paddr: where the segment is loaded.</param>
    /// <param name="FileBytes">p_filesz.</param>
    /// <param name="MemoryBytes">p_memsz.</param>
    public sealed record Segment(ulong FileOffset, ulong PhysicalAddress, ulong FileBytes, ulong MemoryBytes);

    /// <summary>A validated executable: its entry point and loadable segments.</summary>
    /// <param name="Entry">e_entry.</param>
    /// <param name="Segments">The PT_LOAD segments in file order.</param>
    public sealed record Executable(ulong Entry, IReadOnlyList<Segment> Segments);

    /// <summary>Parses and validates the ELF header and program headers of <paramref name="elf"/>.</summary>
    /// <param name="elf">The whole file.</param>
    /// <param name="name">File path or name for errors.</param>
    /// <exception cref="ImageLoadException">not an ELF64 x86-64 executable, or truncated/inconsistent.</exception>
    public static Executable Parse(ReadOnlySpan<byte> elf, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (elf.Length < 4 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new ImageLoadException(name, "not an ELF file (the magic bytes 7f 45 4c 46 are missing)");
        if (elf.Length < HeaderSize)
            throw new ImageLoadException(name, $"truncated ELF header: the file has {elf.Length} bytes, the ELF64 header needs {HeaderSize}");
        if (elf[4] != ElfClass64) throw new ImageLoadException(name, $"not a 64-bit ELF file (EI_CLASS is {elf[4]}, expected {ElfClass64})");
        if (elf[5] != ElfDataLittleEndian) throw new ImageLoadException(name, $"not a little-endian ELF file (EI_DATA is {elf[5]})");
        ushort type = U16(elf, 16), machine = U16(elf, 18);
        if (type != TypeExecutable) throw new ImageLoadException(name, $"not an executable (e_type is {type}, expected ET_EXEC = {TypeExecutable})");
        if (machine != MachineX86_64) throw new ImageLoadException(name, $"not an x86-64 executable (e_machine is {machine}, expected {MachineX86_64})");
        ulong entry = U64(elf, 24), phoff = U64(elf, 32);
        ushort phentsize = U16(elf, 54), phnum = U16(elf, 56);
        if (phnum == 0) throw new ImageLoadException(name, "the executable has no program headers");
        if (phentsize < ProgramHeaderSize)
            throw new ImageLoadException(name, $"program header size e_phentsize is {phentsize}, ELF64 needs at least {ProgramHeaderSize}");
        ulong tableBytes = (ulong)phentsize * phnum;
        if (phoff > (ulong)elf.Length || tableBytes > (ulong)elf.Length - phoff)
            throw new ImageLoadException(name, $"truncated program header table: {phnum} entries of {phentsize} bytes at offset 0x{phoff:x} run past the end of the file ({elf.Length} bytes)");

        var segments = new List<Segment>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = elf.Slice((int)(phoff + (ulong)i * phentsize), ProgramHeaderSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != SegmentLoad) continue;
            ulong offset = U64(ph, 8), paddr = U64(ph, 24), filesz = U64(ph, 32), memsz = U64(ph, 40);
            if (filesz > memsz)
                throw new ImageLoadException(name, $"program header {i}: p_filesz 0x{filesz:x} exceeds p_memsz 0x{memsz:x}");
            if (offset > (ulong)elf.Length || filesz > (ulong)elf.Length - offset)
                throw new ImageLoadException(name, $"program header {i}: segment data 0x{offset:x}+0x{filesz:x} runs past the end of the file ({elf.Length} bytes)");
            if (paddr + memsz < paddr)
                throw new ImageLoadException(name, $"program header {i}: segment 0x{paddr:x}+0x{memsz:x} wraps around the address space");
            if (memsz > 0) segments.Add(new Segment(offset, paddr, filesz, memsz));
        }
        if (segments.Count == 0) throw new ImageLoadException(name, "the executable has no PT_LOAD segment");
        if (!segments.Any(s => entry >= s.PhysicalAddress && entry < s.PhysicalAddress + s.MemoryBytes))
            throw new ImageLoadException(name, $"entry point 0x{entry:x} lies outside every PT_LOAD segment");
        return new Executable(entry, segments);
    }

    /// <summary>Parses <paramref name="elf"/> and copies its segments into <paramref name="ram"/> (guest RAM from address 0).</summary>
    /// <exception cref="ImageLoadException">malformed, or a segment does not fit in RAM (nothing is written then).</exception>
    public static LoadedImage Load(HostMemory ram, ReadOnlySpan<byte> elf, string name)
    {
        ArgumentNullException.ThrowIfNull(ram);
        var exe = Parse(elf, name);
        foreach (var s in exe.Segments)
        {
            if (s.PhysicalAddress >= ram.Size || s.MemoryBytes > ram.Size - s.PhysicalAddress)
                throw new ImageLoadException(name,
                    $"segment at 0x{s.PhysicalAddress:x} of 0x{s.MemoryBytes:x} bytes ends at 0x{s.PhysicalAddress + s.MemoryBytes:x}, beyond guest RAM (0x{ram.Size:x} bytes)");
        }
        var loaded = new List<LoadedSegment>(exe.Segments.Count);
        foreach (var s in exe.Segments)
        {
            ram.Write(s.PhysicalAddress, elf.Slice((int)s.FileOffset, (int)s.FileBytes));
            ulong bss = s.MemoryBytes - s.FileBytes;
            for (ulong done = 0; done < bss;)
            {
                int chunk = (int)Math.Min(bss - done, 1UL << 30);
                ram.Span(s.PhysicalAddress + s.FileBytes + done, chunk).Clear();
                done += (ulong)chunk;
            }
            loaded.Add(new LoadedSegment(s.PhysicalAddress, s.FileBytes, s.MemoryBytes));
        }
        return new LoadedImage(name, exe.Entry, loaded);
    }

    /// <summary>Reads the file at <paramref name="path"/> and loads it.</summary>
    /// <exception cref="ImageLoadException">the file cannot be read, is not a valid executable, or does not fit.</exception>
    public static LoadedImage LoadFile(HostMemory ram, string path) => Load(ram, ImageFile.ReadAll(path), path);

    /// <summary>Reads the open <paramref name="file"/> through its descriptor and loads it.</summary>
    /// <exception cref="ImageLoadException">the file cannot be read, is not a valid executable, or does not fit.</exception>
    public static LoadedImage LoadFile(HostMemory ram, ConfinedFile file) => Load(ram, ImageFile.ReadAll(file), file.Path);

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
}
