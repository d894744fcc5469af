using System.Buffers.Binary;
using System.Text;

namespace Actorvisor.Hardware.X86;

/// <summary>
/// The Intel MultiProcessor Specification 1.4 tables of the PC platform, which an SMP Linux without ACPI reads to
/// find its processors and IOAPIC: a 16-byte floating pointer ("_MP_") followed by the configuration table
/// ("PCMP") with one processor entry per vCPU (LAPIC id = vCPU index, vCPU 0 the bootstrap processor), the ISA bus,
/// the IOAPIC at 0xfec00000 with ISA IRQs 0-15 on its pins 0-15 (KVM's in-kernel IOAPIC wiring), and LINT0 as
/// ExtINT (the PIC, virtual-wire mode) and LINT1 as NMI on every LAPIC.
/// </summary>
public static class MpTable
{
    /// <summary>The local APICs' guest-physical address.</summary>
    public const uint LapicAddress = 0xfee0_0000;
    /// <summary>The IOAPIC's guest-physical address.</summary>
    public const uint IoApicAddress = 0xfec0_0000;
    /// <summary>ISA interrupts routed through the IOAPIC.</summary>
    public const int IsaIrqs = 16;

    private const byte SpecRevision = 4, LapicVersion = 0x14, IoApicVersion = 0x11;
    private const byte EntryProcessor = 0, EntryBus = 1, EntryIoApic = 2, EntryIoInterrupt = 3, EntryLocalInterrupt = 4;
    private const byte InterruptInt = 0, InterruptNmi = 1, InterruptExtInt = 3;
    private const int FloatingPointerSize = 16, HeaderSize = 44, ProcessorSize = 20, OtherEntrySize = 8;

    /// <summary>Bytes of the floating pointer and configuration table for <paramref name="vcpus"/> processors.</summary>
    public static int SizeFor(int vcpus) => FloatingPointerSize + HeaderSize + vcpus * ProcessorSize + (2 + IsaIrqs + 2) * OtherEntrySize;

    /// <summary>The IOAPIC's id: the first APIC id after the processors'.</summary>
    public static byte IoApicId(int vcpus) => (byte)vcpus;

    /// <summary>The tables for <paramref name="vcpus"/> processors, to be placed at guest-physical <paramref name="address"/>.</summary>
    public static byte[] Build(ulong address, int vcpus)
    {
        if (vcpus < 1 || vcpus > 254) throw new ArgumentOutOfRangeException(nameof(vcpus), vcpus, "the MP table describes 1..254 processors");
        if (address + (ulong)SizeFor(vcpus) > uint.MaxValue) throw new ArgumentOutOfRangeException(nameof(address), "the MP table must lie below 4 GiB");
        var bytes = new byte[SizeFor(vcpus)];
        var table = bytes.AsSpan(FloatingPointerSize);
        int at = HeaderSize;
        for (int i = 0; i < vcpus; i++)
        {
            var e = table.Slice(at, ProcessorSize);
            e[0] = EntryProcessor;
            e[1] = (byte)i; // LAPIC id
            e[2] = LapicVersion;
            e[3] = (byte)(0x01 | (i == 0 ? 0x02 : 0)); // enabled, bootstrap processor
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], 0x600); // signature: family 6
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], (1u << 9) | 1u); // features: APIC, FPU
            at += ProcessorSize;
        }
        var bus = table.Slice(at, OtherEntrySize);
        bus[0] = EntryBus;
        bus[1] = 0;
        Encoding.ASCII.GetBytes("ISA   ", bus[2..]);
        at += OtherEntrySize;
        byte ioApicId = IoApicId(vcpus);
        var ioApic = table.Slice(at, OtherEntrySize);
        ioApic[0] = EntryIoApic;
        ioApic[1] = ioApicId;
        ioApic[2] = IoApicVersion;
        ioApic[3] = 1; // enabled
        BinaryPrimitives.WriteUInt32LittleEndian(ioApic[4..], IoApicAddress);
        at += OtherEntrySize;
        for (int irq = 0; irq < IsaIrqs; irq++)
        {
            WriteInterrupt(table.Slice(at, OtherEntrySize), EntryIoInterrupt, InterruptInt, (byte)irq, ioApicId, (byte)irq);
            at += OtherEntrySize;
        }
        WriteInterrupt(table.Slice(at, OtherEntrySize), EntryLocalInterrupt, InterruptExtInt, 0, 0xff, 0);
        at += OtherEntrySize;
        WriteInterrupt(table.Slice(at, OtherEntrySize), EntryLocalInterrupt, InterruptNmi, 0, 0xff, 1);
        at += OtherEntrySize;

        Encoding.ASCII.GetBytes("PCMP", table);
        BinaryPrimitives.WriteUInt16LittleEndian(table[4..], (ushort)at); // base table length
        table[6] = SpecRevision;
        Encoding.ASCII.GetBytes("ACTRVSR ", table[8..]); // OEM id, 8 bytes
        Encoding.ASCII.GetBytes("PC PLATFORM ", table[16..]); // product id, 12 bytes
        BinaryPrimitives.WriteUInt16LittleEndian(table[34..], (ushort)(vcpus + 2 + IsaIrqs + 2)); // entry count
        BinaryPrimitives.WriteUInt32LittleEndian(table[36..], LapicAddress);
        table[7] = Checksum(table[..at]);

        var pointer = bytes.AsSpan(0, FloatingPointerSize);
        Encoding.ASCII.GetBytes("_MP_", pointer);
        BinaryPrimitives.WriteUInt32LittleEndian(pointer[4..], (uint)address + FloatingPointerSize);
        pointer[8] = 1; // length in 16-byte units
        pointer[9] = SpecRevision;
        pointer[10] = Checksum(pointer);
        return bytes;
    }

    // The byte that makes the sum of all bytes zero (the checksum byte itself must be zero when called).
    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (var b in bytes) sum += b;
        return (byte)(-sum & 0xff);
    }

    private static void WriteInterrupt(Span<byte> e, byte entryType, byte interruptType, byte sourceIrq, byte destinationApic, byte destinationPin)
    {
        e[0] = entryType;
        e[1] = interruptType;
        e[2] = 0; e[3] = 0; // polarity and trigger: as the bus says (ISA: active high, edge)
        e[4] = 0; // source bus: ISA
        e[5] = sourceIrq;
        e[6] = destinationApic;
        e[7] = destinationPin;
    }
}
