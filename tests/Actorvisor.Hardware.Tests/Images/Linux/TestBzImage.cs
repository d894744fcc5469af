using System.Buffers.Binary;

namespace Actorvisor.Hardware.Tests.Images.Linux;

/// <summary>Builds a minimal bzImage in memory: a boot sector with the setup header, setup sectors, and a protected-mode kernel.</summary>
internal sealed record TestBzImage
{
    public int SetupSectors { get; init; } = 1;
    public ushort Version { get; init; } = 0x020f;
    public byte LoadFlags { get; init; } = 0x01;
    public ushort XLoadFlags { get; init; } = 0x01;
    public bool Relocatable { get; init; } = true;
    public uint KernelAlignment { get; init; } = 0x20_0000;
    public ulong PreferredAddress { get; init; } = 0x100_0000;
    public uint InitSize { get; init; } = 0x4_0000;
    public uint InitrdAddressMax { get; init; } = 0x7fff_ffff;
    public uint CommandLineSize { get; init; } = 0x7ff;
    public uint Magic { get; init; } = 0x5372_6448;
    public byte[] Kernel { get; init; } = [.. Enumerable.Range(0, 0x100).Select(i => (byte)(i ^ 0x5a))];
    /// <summary>Bytes cut off the end of the file after building (a truncated download).</summary>
    public int Truncate { get; init; }

    public byte[] Build()
    {
        int kernelOffset = (SetupSectors + 1) * 512;
        var file = new byte[kernelOffset + Kernel.Length];
        var s = file.AsSpan();
        s[0x1f1] = (byte)SetupSectors;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1f4..], (uint)(Kernel.Length / 16));
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fa..], 0xffff); // vid_mode NORMAL_VGA: copied verbatim
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fe..], 0xaa55);
        s[0x200] = 0xeb; // jmp short: the byte at 0x201 gives the header's end (0x202 + 0x66 = 0x268)
        s[0x201] = 0x66;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x202..], Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], Version);
        s[0x211] = LoadFlags;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22c..], InitrdAddressMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], KernelAlignment);
        s[0x234] = Relocatable ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], XLoadFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], CommandLineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], PreferredAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], InitSize);
        Kernel.CopyTo(s[kernelOffset..]);
        return Truncate == 0 ? file : file[..^Truncate];
    }
}
