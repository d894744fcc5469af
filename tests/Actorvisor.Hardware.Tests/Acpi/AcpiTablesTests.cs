using System.Buffers.Binary;
using System.Text;
using Actorvisor.Hardware.Acpi;

namespace Actorvisor.Hardware.Tests.Acpi;

public sealed class AcpiTablesTests
{
    private const ulong Address = AcpiTables.PcAddress;

    private static readonly AcpiSystemDescription TwoCpusTwoDisks =
        new(2, 2, [(0xd100_0000, 5), (0xd100_1000, 6)]);

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (var b in bytes) sum += b;
        return sum & 0xff;
    }

    private static ReadOnlySpan<byte> Table(byte[] block, ulong address, string signature)
    {
        var at = block.AsSpan((int)(address - Address));
        Assert.Equal(signature, Encoding.ASCII.GetString(at[..4]));
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(at[4..]);
        Assert.Equal(0, Sum(at[..length]));
        return at[..length];
    }

    [Fact]
    public void The_rsdp_points_at_an_xsdt_listing_fadt_and_madt_and_every_checksum_holds()
    {
        var block = AcpiTables.Build(Address, TwoCpusTwoDisks);
        var rsdp = block.AsSpan(0, AcpiTables.RsdpSize);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp[..8]));
        Assert.Equal(0, Sum(rsdp[..20]));
        Assert.Equal(0, Sum(rsdp));
        Assert.Equal(2, rsdp[15]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(rsdp[16..])); // no RSDT
        Assert.Equal((uint)AcpiTables.RsdpSize, BinaryPrimitives.ReadUInt32LittleEndian(rsdp[20..]));
        ulong xsdtAt = BinaryPrimitives.ReadUInt64LittleEndian(rsdp[24..]);
        var xsdt = Table(block, xsdtAt, "XSDT");
        Assert.Equal(AcpiTables.HeaderSize + 16, xsdt.Length);
        var fadt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[36..]), "FACP");
        var madt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[44..]), "APIC");
        Assert.Equal(AcpiTables.FadtSize, fadt.Length);
        Assert.Equal(6, fadt[8]);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[112..]) & AcpiTables.FadtHardwareReduced);
        ulong dsdtAt = BinaryPrimitives.ReadUInt64LittleEndian(fadt[140..]);
        Assert.Equal(dsdtAt, BinaryPrimitives.ReadUInt32LittleEndian(fadt[40..]));
        var dsdt = Table(block, dsdtAt, "DSDT");
        Assert.Equal(block.Length, (int)(dsdtAt - Address) + dsdt.Length);
        Assert.True(madt.Length > 44);
    }

    [Fact]
    public void Madt_has_a_lapic_per_vcpu_the_ioapic_identity_isa_overrides_and_the_lint1_nmi()
    {
        var block = AcpiTables.Build(Address, new AcpiSystemDescription(3, 3, []));
        var xsdt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(block.AsSpan(24)), "XSDT");
        var madt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[44..]), "APIC");
        Assert.Equal(0xfee0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(madt[36..]));
        var entries = new List<(byte Type, byte[] Bytes)>();
        for (int at = 44; at < madt.Length; at += madt[at + 1]) entries.Add((madt[at], madt.Slice(at, madt[at + 1]).ToArray()));
        var lapics = entries.Where(e => e.Type == 0).ToList();
        Assert.Equal([0, 1, 2], lapics.Select(e => (int)e.Bytes[3]));
        Assert.All(lapics, e => Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(e.Bytes.AsSpan(4))));
        var ioapic = Assert.Single(entries, e => e.Type == 1).Bytes;
        Assert.Equal(3, ioapic[2]);
        Assert.Equal(0xfec0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(8)));
        var overrides = entries.Where(e => e.Type == 2).ToList();
        Assert.Equal(Enumerable.Range(0, 16), overrides.Select(e => (int)e.Bytes[3]));
        Assert.All(overrides, e => Assert.Equal(e.Bytes[3], BinaryPrimitives.ReadUInt32LittleEndian(e.Bytes.AsSpan(4))));
        var nmi = Assert.Single(entries, e => e.Type == 4).Bytes;
        Assert.Equal(0xff, nmi[2]);
        Assert.Equal(1, nmi[5]);
    }

    [Fact]
    public void Dsdt_declares_com1_and_one_lnro0005_device_per_transport_with_its_window_and_irq()
    {
        var block = AcpiTables.Build(Address, TwoCpusTwoDisks);
        var xsdt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(block.AsSpan(24)), "XSDT");
        var fadt = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[36..]), "FACP");
        var aml = Table(block, BinaryPrimitives.ReadUInt64LittleEndian(fadt[140..]), "DSDT")[36..].ToArray();
        byte[] expected = new AmlWriter().Scope("\\_SB_", sb => sb
            .Device("COM1", d => d.NameEisaId("_HID", "PNP0501").Name("_UID", 1).Name("_CRS", new AmlResourceTemplate().Io(0x3f8, 8).Irq(4)))
            .Device("VR00", d => d.Name("_HID", "LNRO0005").Name("_UID", 0).Name("_CRS", new AmlResourceTemplate().Memory32Fixed(0xd100_0000, 0x1000).ExtendedInterrupt(5)))
            .Device("VR01", d => d.Name("_HID", "LNRO0005").Name("_UID", 1).Name("_CRS", new AmlResourceTemplate().Memory32Fixed(0xd100_1000, 0x1000).ExtendedInterrupt(6))))
            .ToArray();
        Assert.Equal(expected, aml);
        // And independently of the writer: the second device's window and GSI sit in a Memory32Fixed and an extended interrupt.
        var hex = Convert.ToHexString(aml);
        Assert.Contains("860900" + "01" + "0010" + "00D1" + "00100000", hex);
        Assert.Contains("890600" + "03" + "01" + "06000000", hex);
        Assert.Equal(2, CountOf(aml, Encoding.ASCII.GetBytes("LNRO0005\0")));
    }

    [Fact]
    public void Tables_for_the_most_vcpus_and_devices_fit_the_pc_room()
    {
        var devices = Enumerable.Range(0, 7).Select(i => (0xd100_0000UL + (ulong)i * 0x1000, i + 5)).ToList();
        Assert.InRange(AcpiTables.Build(Address, new AcpiSystemDescription(254, 254, devices)).Length, 1, AcpiTables.PcRoom);
    }

    [Fact]
    public void Refuses_an_unaligned_address_and_a_processor_count_the_madt_cannot_hold()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(Address + 4, TwoCpusTwoDisks));
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(Address, new AcpiSystemDescription(0, 0, [])));
    }

    private static int CountOf(byte[] haystack, byte[] needle)
    {
        int count = 0;
        for (int i = haystack.AsSpan().IndexOf(needle); i >= 0; i = haystack.AsSpan(i + 1).IndexOf(needle) is var j && j >= 0 ? i + 1 + j : -1) count++;
        return count;
    }
}
