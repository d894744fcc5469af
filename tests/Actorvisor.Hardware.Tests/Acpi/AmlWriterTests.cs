using Actorvisor.Hardware.Acpi;

namespace Actorvisor.Hardware.Tests.Acpi;

public sealed class AmlWriterTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x01 })]
    [InlineData(0x3e, new byte[] { 0x3f })] // 63 in all: the most one byte holds
    [InlineData(0x3f, new byte[] { 0x41, 0x04 })] // 0x41 in all with the second byte: low nibble 1, then 0x04
    [InlineData(0xffd, new byte[] { 0x4f, 0xff })] // 0xfff in all: the most two bytes hold
    [InlineData(0xffe, new byte[] { 0x81, 0x00, 0x01 })] // 0x1001 in all with three bytes
    [InlineData(0xffffc, new byte[] { 0x8f, 0xff, 0xff })] // 0xfffff in all: the most three bytes hold
    [InlineData(0xffffd, new byte[] { 0xc1, 0x00, 0x00, 0x01 })] // 0x100001 in all with four bytes
    public void PkgLength_counts_its_own_bytes_and_spreads_the_rest_over_the_following_bytes(int body, byte[] expected) =>
        Assert.Equal(expected, AmlWriter.PkgLength(body));

    [Fact]
    public void PkgLength_refuses_a_package_of_2_pow_28_bytes() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AmlWriter.PkgLength(0x0fff_fffc));

    [Theory]
    [InlineData("PNP0501", 0x0105d041u)] // the value iasl emits for EisaId ("PNP0501")
    [InlineData("PNP0303", 0x0303d041u)]
    [InlineData("PNP0A03", 0x030ad041u)]
    public void EisaId_compresses_letters_into_five_bits_and_stores_big_endian(string id, uint expected) =>
        Assert.Equal(expected, AmlWriter.EisaId(id));

    [Theory]
    [InlineData("pnp0501")]
    [InlineData("PNP050")]
    [InlineData("PNP05G1")]
    public void EisaId_refuses_what_is_not_three_capitals_and_four_hex_digits(string id) =>
        Assert.Throws<ArgumentException>(() => AmlWriter.EisaId(id));

    [Fact]
    public void Integers_take_their_shortest_encoding()
    {
        byte[] Named(ulong v) => new AmlWriter().Name("X", v).ToArray()[5..];
        Assert.Equal(new byte[] { 0x00 }, Named(0));
        Assert.Equal(new byte[] { 0x01 }, Named(1));
        Assert.Equal(new byte[] { 0x0a, 0x02 }, Named(2));
        Assert.Equal(new byte[] { 0x0b, 0x00, 0x01 }, Named(0x100));
        Assert.Equal(new byte[] { 0x0c, 0x00, 0x00, 0x00, 0xd1 }, Named(0xd100_0000));
        Assert.Equal(new byte[] { 0x0e, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 }, Named(0x0102_0304_0506_0708));
    }

    [Fact]
    public void Name_of_a_string_is_NameOp_the_padded_segment_StringPrefix_the_ascii_and_a_nul() =>
        Assert.Equal(new byte[] { 0x08, (byte)'_', (byte)'H', (byte)'I', (byte)'D', 0x0d, (byte)'L', (byte)'N', (byte)'R', (byte)'O', (byte)'0', (byte)'0', (byte)'0', (byte)'5', 0x00 },
            new AmlWriter().Name("_HID", "LNRO0005").ToArray());

    [Fact]
    public void A_virtio_device_encodes_byte_for_byte()
    {
        var aml = new AmlWriter().Device("VR00", d => d
            .Name("_UID", 0)
            .Name("_CRS", new AmlResourceTemplate().Memory32Fixed(0xd100_0000, 0x1000).ExtendedInterrupt(5))).ToArray();
        byte[] expected =
        [
            0x5b, 0x82, 0x2b, (byte)'V', (byte)'R', (byte)'0', (byte)'0', // DeviceOp, PkgLength 43 (itself + 42), name
            0x08, (byte)'_', (byte)'U', (byte)'I', (byte)'D', 0x00, // Name (_UID, Zero)
            0x08, (byte)'_', (byte)'C', (byte)'R', (byte)'S', 0x11, 0x1a, 0x0a, 0x17, // Name (_CRS, Buffer (PkgLength 26) { size 23 ...
            0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd1, 0x00, 0x10, 0x00, 0x00, // Memory32Fixed (ReadWrite, 0xd1000000, 0x1000)
            0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, // Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 5 }
            0x79, 0x00, // end tag
        ];
        Assert.Equal(expected, aml);
    }

    [Fact]
    public void A_scope_from_the_root_holding_more_than_63_bytes_gets_a_two_byte_PkgLength()
    {
        var aml = new AmlWriter().Scope("\\_SB_", sb =>
        {
            for (int i = 0; i < 10; i++) sb.Name($"N{i}", (ulong)i + 2); // 10 x 7 bytes
        }).ToArray();
        int body = 5 + 10 * 7; // "\_SB_" and the names: 75, so 77 in all with a two-byte PkgLength
        Assert.Equal(0x10, aml[0]);
        Assert.Equal(new byte[] { 0x4d, 0x04 }, aml[1..3]);
        Assert.Equal(0x40 | ((body + 2) & 0xf), aml[1]);
        Assert.Equal((body + 2) >> 4, aml[2]);
        Assert.Equal(new byte[] { 0x5c, (byte)'_', (byte)'S', (byte)'B', (byte)'_' }, aml[3..8]);
        Assert.Equal(1 + 2 + body, aml.Length);
    }

    [Fact]
    public void Io_and_legacy_irq_descriptors_encode_as_iasl_does() =>
        Assert.Equal(new byte[] { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00 },
            new AmlResourceTemplate().Io(0x3f8, 8).Irq(4).ToArray());

    [Theory]
    [InlineData("TOOLONG")]
    [InlineData("1ABC")]
    [InlineData("ab")]
    [InlineData("\\")]
    public void Names_that_are_not_one_segment_are_refused(string name) =>
        Assert.Throws<ArgumentException>(() => new AmlWriter().Name(name, 0));
}
