using System.Buffers.Binary;
using System.Text;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Acpi;

/// <summary>
/// Builds the ACPI tables of Actorvisor's PC platform as one block for a fixed guest-physical address, the way
/// Firecracker describes its microVMs: RSDP (revision 2, XSDT only) at the block's start, then XSDT, FADT (HW_REDUCED_ACPI:
/// no PM timer, SCI or fixed-feature registers), MADT and DSDT. The MADT has a Local APIC per vCPU, the IOAPIC with
/// GSI base 0, an identity interrupt source override for each ISA IRQ 0-15 (edge, active high: the MP table's wiring)
/// and LINT1 as NMI. The DSDT declares COM1 (so that a kernel without the legacy PIC still maps its IRQ 4) and one
/// device per virtio-mmio transport (_HID "LNRO0005", _CRS its window and edge-triggered GSI), which is how a Linux
/// kernel without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES finds them.
/// </summary>
public static class AcpiTables
{
    /// <summary>Where the PC platform puts the block: 0xe0000, inside the range Linux scans for "RSD PTR " (0xe0000-0xfffff).</summary>
    public const ulong PcAddress = 0xe_0000;
    /// <summary>Room the PC platform keeps for the block (up to the BIOS area at 0xf0000).</summary>
    public const int PcRoom = 0x1_0000;
    /// <summary>The RSDP's size (ACPI 2.0+).</summary>
    public const int RsdpSize = 36;
    /// <summary>Every system description table's header size.</summary>
    public const int HeaderSize = 36;
    /// <summary>The FADT's size in revision 6.5.</summary>
    public const int FadtSize = 276;
    /// <summary>FADT flags bit HW_REDUCED_ACPI.</summary>
    public const uint FadtHardwareReduced = 1u << 20;
    /// <summary>The _HID of a virtio-mmio transport, as Linux's virtio_mmio driver matches it.</summary>
    public const string VirtioMmioHid = "LNRO0005";

    private const string OemId = "ACTRVS", OemTableId = "ACTRVSPC", CreatorId = "ACTV";
    private const uint OemRevision = 1, CreatorRevision = 1;
    private const int Alignment = 16;

    /// <summary>The tables describing <paramref name="system"/>, to be placed at guest-physical <paramref name="address"/> (the RSDP's).</summary>
    public static byte[] Build(ulong address, AcpiSystemDescription system)
    {
        ArgumentNullException.ThrowIfNull(system);
        if (system.VcpuCount is < 1 or > 254) throw new ArgumentOutOfRangeException(nameof(system), system.VcpuCount, "the MADT describes 1..254 processors");
        if (address % Alignment != 0) throw new ArgumentOutOfRangeException(nameof(address), "the RSDP must be 16-byte aligned");

        var dsdt = Dsdt(system);
        var madt = Madt(system);
        int xsdtAt = Align(RsdpSize), xsdtSize = HeaderSize + 2 * 8;
        int fadtAt = Align(xsdtAt + xsdtSize), madtAt = Align(fadtAt + FadtSize), dsdtAt = Align(madtAt + madt.Length);
        ulong end = address + (ulong)(dsdtAt + dsdt.Length);
        if (end > uint.MaxValue) throw new ArgumentOutOfRangeException(nameof(address), "the ACPI tables must lie below 4 GiB (the FADT's 32-bit DSDT pointer is filled in)");

        var block = new byte[dsdtAt + dsdt.Length];
        dsdt.CopyTo(block, dsdtAt);
        madt.CopyTo(block, madtAt);
        Fadt(address + (ulong)dsdtAt).CopyTo(block, fadtAt);
        Xsdt([address + (ulong)fadtAt, address + (ulong)madtAt]).CopyTo(block, xsdtAt);
        Rsdp(address + (ulong)xsdtAt).CopyTo(block, 0);
        return block;
    }

    /// <summary>The byte that makes <paramref name="bytes"/> sum to zero, given that its checksum byte is zero now.</summary>
    public static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (var b in bytes) sum += b;
        return (byte)(-sum & 0xff);
    }

    private static byte[] Rsdp(ulong xsdt)
    {
        var r = new byte[RsdpSize];
        Encoding.ASCII.GetBytes("RSD PTR ", r);
        Encoding.ASCII.GetBytes(OemId, r.AsSpan(9));
        r[15] = 2; // revision: ACPI 2.0+, XSDT
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), RsdpSize);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        r[8] = Checksum(r.AsSpan(0, 20));
        r[32] = Checksum(r);
        return r;
    }

    private static byte[] Xsdt(IReadOnlyList<ulong> tables)
    {
        var t = new byte[HeaderSize + tables.Count * 8];
        for (int i = 0; i < tables.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(HeaderSize + i * 8), tables[i]);
        return Seal(t, "XSDT", revision: 1);
    }

    private static byte[] Fadt(ulong dsdt)
    {
        var f = new byte[FadtSize];
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(40), (uint)dsdt); // DSDT (32-bit), the same as X_DSDT
        // IAPC_BOOT_ARCH: legacy devices and an 8042 are present (the i8042 resets the machine), no VGA, no MSI.
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(109), 0x1 | 0x2 | 0x4 | 0x8);
        // Flags: WBINVD works (bit 0), the power and sleep buttons are not fixed features (bits 4, 5), hardware-reduced ACPI.
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(112), 0x1 | 0x10 | 0x20 | FadtHardwareReduced);
        f[131] = 5; // FADT minor version: 6.5
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(140), dsdt); // X_DSDT
        Encoding.ASCII.GetBytes("ACTRVSR ", f.AsSpan(268)); // hypervisor vendor identity
        return Seal(f, "FACP", revision: 6);
    }

    private static byte[] Madt(AcpiSystemDescription system)
    {
        const int LapicSize = 8, IoApicSize = 12, OverrideSize = 10, NmiSize = 6;
        var m = new byte[HeaderSize + 8 + system.VcpuCount * LapicSize + IoApicSize + MpTable.IsaIrqs * OverrideSize + NmiSize];
        var s = m.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], MpTable.LapicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], 1); // PCAT_COMPAT: the 8259s are there (KVM's in-kernel PIC)
        int at = HeaderSize + 8;
        for (int i = 0; i < system.VcpuCount; i++)
        {
            s[at] = 0; s[at + 1] = LapicSize;
            s[at + 2] = (byte)i; // ACPI processor UID
            s[at + 3] = (byte)i; // APIC id
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], 1); // enabled
            at += LapicSize;
        }
        s[at] = 1; s[at + 1] = IoApicSize;
        s[at + 2] = system.IoApicId;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], MpTable.IoApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 8)..], 0); // GSI base
        at += IoApicSize;
        for (int irq = 0; irq < MpTable.IsaIrqs; irq++)
        {
            s[at] = 2; s[at + 1] = OverrideSize;
            s[at + 2] = 0; // bus: ISA
            s[at + 3] = (byte)irq;
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], (uint)irq); // GSI = the IOAPIC pin of the same number
            BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 8)..], 0); // polarity and trigger as the bus says: edge, active high
            at += OverrideSize;
        }
        s[at] = 4; s[at + 1] = NmiSize;
        s[at + 2] = 0xff; // every processor
        BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 3)..], 0);
        s[at + 5] = 1; // LINT1
        return Seal(m, "APIC", revision: 5);
    }

    private static byte[] Dsdt(AcpiSystemDescription system)
    {
        var aml = new AmlWriter().Scope("\\_SB_", sb =>
        {
            sb.Device("COM1", d => d
                .NameEisaId("_HID", "PNP0501")
                .Name("_UID", 1)
                .Name("_CRS", new AmlResourceTemplate().Io(0x3f8, 8).Irq(4)));
            for (int i = 0; i < system.VirtioMmioDevices.Count; i++)
            {
                var (window, irq) = system.VirtioMmioDevices[i];
                if (window > uint.MaxValue) throw new ArgumentOutOfRangeException(nameof(system), $"virtio-mmio device {i} at 0x{window:x} lies above 4 GiB");
                sb.Device($"VR{i:X2}", d => d
                    .Name("_HID", VirtioMmioHid)
                    .Name("_UID", (ulong)i)
                    .Name("_CRS", new AmlResourceTemplate().Memory32Fixed((uint)window, 0x1000).ExtendedInterrupt((uint)irq)));
            }
        }).ToArray();
        var t = new byte[HeaderSize + aml.Length];
        aml.CopyTo(t, HeaderSize);
        return Seal(t, "DSDT", revision: 2); // revision 2: 64-bit integers
    }

    // Fills the header of table t (its body already in place) and its checksum.
    private static byte[] Seal(byte[] t, string signature, byte revision)
    {
        Encoding.ASCII.GetBytes(signature, t);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)t.Length);
        t[8] = revision;
        Encoding.ASCII.GetBytes(OemId, t.AsSpan(10));
        Encoding.ASCII.GetBytes(OemTableId, t.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), OemRevision);
        Encoding.ASCII.GetBytes(CreatorId, t.AsSpan(28));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), CreatorRevision);
        t[9] = Checksum(t);
        return t;
    }

    private static int Align(int offset) => (offset + Alignment - 1) / Alignment * Alignment;
}
