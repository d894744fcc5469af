using System.Buffers.Binary;
using Actorvisor.Hardware.Images;

namespace Actorvisor.Hardware.Tests.Images;

/// <summary>Builds small multiboot kernel files byte by byte for loader tests: a.out-kludge kernels and ELF32 kernels.</summary>
public static class MultibootKernelFile
{
    public const uint AoutFlags = MultibootHeader.FlagPageAlignModules | MultibootHeader.FlagMemoryInfo | MultibootHeader.FlagAddresses;

    /// <summary>An a.out-kludge kernel: the 32-byte header at file offset 0 (loaded at <paramref name="loadAddress"/>), then <paramref name="code"/>, entered just after the header.</summary>
    public static byte[] Aout(uint loadAddress, byte[] code, uint flags = AoutFlags, uint? checksum = null, uint loadEnd = 0, uint bssEnd = 0)
    {
        var file = new byte[MultibootHeader.SizeWithAddresses + code.Length];
        var s = file.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, MultibootHeader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], checksum ?? unchecked(0u - MultibootHeader.Magic - flags));
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], loadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], loadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], loadEnd);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], bssEnd);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], loadAddress + MultibootHeader.SizeWithAddresses);
        code.CopyTo(file, MultibootHeader.SizeWithAddresses);
        return file;
    }

    /// <summary>
    /// An ELF32 i386 kernel with one PT_LOAD of <paramref name="segment"/> at file offset 0x100, linked at
    /// <paramref name="vaddr"/> and loaded at <paramref name="paddr"/>, with <paramref name="bss"/> zero bytes after it; the
    /// multiboot header (flags 3, no address fields) at file offset 0x80; e_entry = <paramref name="vaddr"/> + <paramref name="entryOffset"/>.
    /// </summary>
    public static byte[] Elf32(uint vaddr, uint paddr, byte[] segment, uint bss = 0, uint entryOffset = 0)
    {
        const int headerAt = 0x80, segmentAt = 0x100;
        var file = new byte[segmentAt + segment.Length];
        var s = file.AsSpan();
        s[0] = 0x7f; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 1; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);        // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 3);        // EM_386
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], vaddr + entryOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 52);       // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[40..], 52);       // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[42..], 32);       // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 1);        // e_phnum
        var ph = s[52..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);             // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], segmentAt);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], vaddr);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], paddr);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)segment.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)segment.Length + bss);
        const uint flags = MultibootHeader.FlagPageAlignModules | MultibootHeader.FlagMemoryInfo;
        BinaryPrimitives.WriteUInt32LittleEndian(s[headerAt..], MultibootHeader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(headerAt + 4)..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(headerAt + 8)..], unchecked(0u - MultibootHeader.Magic - flags));
        segment.CopyTo(file, segmentAt);
        return file;
    }
}
