using System.Buffers.Binary;

namespace Actorvisor.Hardware.Acpi;

/// <summary>
/// The resource descriptors of one ResourceTemplate (ACPI 6.5 section 6.4): fixed 32-bit memory, extended
/// interrupt, 16-bit I/O ports and a legacy IRQ; <see cref="ToArray"/> appends the end tag. Owns the descriptor bytes.
/// </summary>
public sealed class AmlResourceTemplate
{
    private const byte IrqNoFlagsTag = 0x22, IoTag = 0x47, EndTag = 0x79, Memory32FixedTag = 0x86, ExtendedInterruptTag = 0x89;
    private readonly List<byte> _bytes = [];

    /// <summary><c>Memory32Fixed (ReadWrite or ReadOnly, base, length)</c>.</summary>
    public AmlResourceTemplate Memory32Fixed(uint address, uint length, bool writable = true)
    {
        Span<byte> d = stackalloc byte[12];
        d[0] = Memory32FixedTag;
        BinaryPrimitives.WriteUInt16LittleEndian(d[1..], 9);
        d[3] = (byte)(writable ? 1 : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        _bytes.AddRange(d);
        return this;
    }

    /// <summary><c>Interrupt (ResourceConsumer, Edge or Level, ActiveHigh, Exclusive) { gsi }</c>.</summary>
    public AmlResourceTemplate ExtendedInterrupt(uint gsi, bool edgeTriggered = true)
    {
        Span<byte> d = stackalloc byte[9];
        d[0] = ExtendedInterruptTag;
        BinaryPrimitives.WriteUInt16LittleEndian(d[1..], 6);
        d[3] = (byte)(0x01 | (edgeTriggered ? 0x02 : 0)); // consumer; edge; active high (bit 2 clear); exclusive (bit 3 clear)
        d[4] = 1; // one interrupt
        BinaryPrimitives.WriteUInt32LittleEndian(d[5..], gsi);
        _bytes.AddRange(d);
        return this;
    }

    /// <summary><c>IO (Decode16, port, port, 1, length)</c>: a fixed range of <paramref name="length"/> ports.</summary>
    public AmlResourceTemplate Io(ushort port, byte length)
    {
        Span<byte> d = stackalloc byte[8];
        d[0] = IoTag;
        d[1] = 1; // 16-bit decode
        BinaryPrimitives.WriteUInt16LittleEndian(d[2..], port);
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], port);
        d[6] = 1; // alignment
        d[7] = length;
        _bytes.AddRange(d);
        return this;
    }

    /// <summary><c>IRQNoFlags () { irq }</c>: an ISA interrupt (edge, active high).</summary>
    public AmlResourceTemplate Irq(int irq)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(irq);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(irq, 15);
        _bytes.Add(IrqNoFlagsTag);
        _bytes.Add((byte)(1 << irq));
        _bytes.Add((byte)((1 << irq) >> 8));
        return this;
    }

    /// <summary>The descriptors followed by the end tag (checksum 0: not checked).</summary>
    public byte[] ToArray() => [.. _bytes, EndTag, 0];
}
