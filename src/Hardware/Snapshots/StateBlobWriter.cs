using System.Buffers.Binary;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Builds one state blob of a snapshot (a vCPU, the VM's platform, a device): a four-character tag and a format
/// version, then little-endian fields in the order the owner writes them. <see cref="StateBlobReader"/> reads them
/// back in the same order and refuses another tag or version.
/// </summary>
public sealed class StateBlobWriter
{
    private readonly MemoryStream _stream = new();

    /// <summary>Starts a blob tagged <paramref name="tag"/> (four ASCII characters) at <paramref name="version"/>.</summary>
    public StateBlobWriter(string tag, uint version)
    {
        if (tag.Length != 4 || tag.Any(c => c > 0x7f)) throw new ArgumentException($"a state tag is four ASCII characters, got '{tag}'", nameof(tag));
        foreach (char c in tag) _stream.WriteByte((byte)c);
        U32(version);
    }

    /// <summary>Appends a byte.</summary>
    public void U8(byte value) => _stream.WriteByte(value);

    /// <summary>Appends a boolean as one byte.</summary>
    public void Bool(bool value) => _stream.WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Appends a 32-bit value.</summary>
    public void U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _stream.Write(b);
    }

    /// <summary>Appends a 64-bit value.</summary>
    public void U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _stream.Write(b);
    }

    /// <summary>Appends a signed 64-bit value.</summary>
    public void I64(long value) => U64(unchecked((ulong)value));

    /// <summary>Appends a length-prefixed byte string.</summary>
    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        U32((uint)bytes.Length);
        _stream.Write(bytes);
    }

    /// <summary>The blob so far.</summary>
    public byte[] ToArray() => _stream.ToArray();
}
