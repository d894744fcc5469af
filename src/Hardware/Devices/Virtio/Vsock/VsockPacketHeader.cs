using System.Buffers.Binary;

namespace Actorvisor.Hardware.Devices.Virtio.Vsock;

/// <summary>
/// The 44-byte little-endian header of every virtio-vsock packet (struct virtio_vsock_hdr): addresses, payload length,
/// socket type, operation, flags and the sender's credit (its receive buffer size and the bytes it has consumed).
/// </summary>
public readonly record struct VsockPacketHeader(
    ulong SourceCid, ulong DestinationCid, uint SourcePort, uint DestinationPort, uint Length, ushort Type, VsockOp Op,
    uint Flags, uint BufferAllocation, uint ForwardCount)
{
    /// <summary>Bytes of the header.</summary>
    public const int Size = 44;
    /// <summary>VIRTIO_VSOCK_TYPE_STREAM, the only socket type this device carries.</summary>
    public const ushort TypeStream = 1;
    /// <summary>SHUTDOWN flag: the sender will receive no more.</summary>
    public const uint ShutdownReceive = 1;
    /// <summary>SHUTDOWN flag: the sender will send no more.</summary>
    public const uint ShutdownSend = 2;

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="bytes"/>.</summary>
    public static VsockPacketHeader Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[28..]),
        (VsockOp)BinaryPrimitives.ReadUInt16LittleEndian(bytes[30..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[32..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[36..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[40..]));

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="bytes"/>.</summary>
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, SourceCid);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], DestinationCid);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[16..], SourcePort);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[20..], DestinationPort);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[24..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[28..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[30..], (ushort)Op);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[32..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[36..], BufferAllocation);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[40..], ForwardCount);
    }
}
