using System.Buffers.Binary;

namespace Actorvisor.Hardware.Tests.Images;

/// <summary>Builds minimal ELF64 files byte by byte (Elf64_Ehdr + Elf64_Phdr table + segment data) for loader tests.</summary>
public sealed class TestElf
{
    public sealed record Phdr(uint Type, ulong Offset, ulong Vaddr, ulong Paddr, ulong FileSize, ulong MemSize);

    public byte Class { get; set; } = 2;
    public byte Data { get; set; } = 1;
    public ushort Type { get; set; } = 2;
    public ushort Machine { get; set; } = 62;
    public ulong Entry { get; set; }
    public ushort PhentSize { get; set; } = 56;
    public List<Phdr> ProgramHeaders { get; } = [];
    public List<(ulong Offset, byte[] Bytes)> Contents { get; } = [];
    public int? TotalSize { get; set; }

    public const int PhOff = 64;

    /// <summary>Adds a PT_LOAD at file offset <paramref name="offset"/> holding <paramref name="bytes"/>, loaded at <paramref name="paddr"/>.</summary>
    public TestElf Load(ulong paddr, byte[] bytes, ulong memSize, ulong offset)
    {
        ProgramHeaders.Add(new Phdr(1, offset, paddr, paddr, (ulong)bytes.Length, memSize));
        Contents.Add((offset, bytes));
        return this;
    }

    public byte[] Build()
    {
        int size = TotalSize ?? Math.Max(PhOff + PhentSize * ProgramHeaders.Count,
            Contents.Count == 0 ? 0 : Contents.Max(c => (int)c.Offset + c.Bytes.Length));
        var b = new byte[Math.Max(size, 0)];
        var full = new byte[Math.Max(size, PhOff + PhentSize * ProgramHeaders.Count + 0x1000)];
        full[0] = 0x7f; full[1] = (byte)'E'; full[2] = (byte)'L'; full[3] = (byte)'F';
        full[4] = Class; full[5] = Data; full[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(16), Type);
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(18), Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(full.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(full.AsSpan(24), Entry);
        BinaryPrimitives.WriteUInt64LittleEndian(full.AsSpan(32), PhOff);
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(52), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(54), PhentSize);
        BinaryPrimitives.WriteUInt16LittleEndian(full.AsSpan(56), (ushort)ProgramHeaders.Count);
        for (int i = 0; i < ProgramHeaders.Count; i++)
        {
            var p = ProgramHeaders[i];
            var ph = full.AsSpan(PhOff + i * PhentSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph, p.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5); // R+X
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], p.Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], p.Vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], p.Paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], p.FileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], p.MemSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
        }
        foreach (var (offset, bytes) in Contents)
            if ((int)offset + bytes.Length <= full.Length) bytes.CopyTo(full, (int)offset);
        full.AsSpan(0, b.Length).CopyTo(b);
        return b;
    }
}
