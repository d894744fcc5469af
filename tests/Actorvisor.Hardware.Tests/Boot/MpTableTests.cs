using System.Buffers.Binary;
using System.Text;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Boot;

public sealed class MpTableTests
{
    private const ulong Address = 0x9fc00;

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (var b in bytes) sum += b;
        return sum & 0xff;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(24)]
    public void Floating_pointer_and_table_have_their_signatures_pointers_and_checksums(int vcpus)
    {
        var bytes = MpTable.Build(Address, vcpus);
        Assert.Equal(MpTable.SizeFor(vcpus), bytes.Length);
        Assert.Equal("_MP_", Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.Equal((uint)Address + 16, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(1, bytes[8]);
        Assert.Equal(4, bytes[9]);
        Assert.Equal(0, Sum(bytes.AsSpan(0, 16)));
        var table = bytes.AsSpan(16);
        Assert.Equal("PCMP", Encoding.ASCII.GetString(table[..4]));
        int length = BinaryPrimitives.ReadUInt16LittleEndian(table[4..]);
        Assert.Equal(bytes.Length - 16, length);
        Assert.Equal(0, Sum(table[..length]));
        Assert.Equal(vcpus + 20, BinaryPrimitives.ReadUInt16LittleEndian(table[34..]));
        Assert.Equal(0xfee0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(table[36..]));
    }

    [Fact]
    public void Two_processors_the_first_the_bsp_then_isa_the_ioapic_and_its_routes()
    {
        var table = MpTable.Build(Address, 2).AsSpan(16);
        // Processor entries: type 0, APIC id, version, flags (enabled; BSP on the first).
        Assert.Equal(new byte[] { 0, 0, 0x14, 3 }, table.Slice(44, 4).ToArray());
        Assert.Equal(new byte[] { 0, 1, 0x14, 1 }, table.Slice(64, 4).ToArray());
        Assert.Equal(new byte[] { 1, 0, (byte)'I', (byte)'S', (byte)'A', (byte)' ', (byte)' ', (byte)' ' }, table.Slice(84, 8).ToArray());
        // IOAPIC: id 2 (after the processors), version 0x11, enabled, at 0xfec00000.
        Assert.Equal(new byte[] { 2, 2, 0x11, 1, 0x00, 0x00, 0xc0, 0xfe }, table.Slice(92, 8).ToArray());
        // ISA IRQ n on IOAPIC 2 pin n, for n = 0 and 4 (the UART).
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 0, 2, 0 }, table.Slice(100, 8).ToArray());
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 4, 2, 4 }, table.Slice(100 + 4 * 8, 8).ToArray());
        // LINT0 ExtINT and LINT1 NMI on every LAPIC.
        Assert.Equal(new byte[] { 4, 3, 0, 0, 0, 0, 0xff, 0 }, table.Slice(228, 8).ToArray());
        Assert.Equal(new byte[] { 4, 1, 0, 0, 0, 0, 0xff, 1 }, table.Slice(236, 8).ToArray());
    }
}
