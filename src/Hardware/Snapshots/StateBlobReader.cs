using System.Buffers.Binary;
using System.Text;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Reads a state blob <see cref="StateBlobWriter"/> built: checks its tag and version first, then hands out the
/// fields in order. A blob that ends early, or has bytes left when <see cref="End"/> is called, is a
/// <see cref="FormatException"/> naming what was being read.
/// </summary>
public ref struct StateBlobReader
{
    private readonly ReadOnlySpan<byte> _blob;
    private readonly string _what;
    private int _offset;

    /// <summary>
    /// Opens <paramref name="blob"/> as <paramref name="what"/> (for messages), which must carry
    /// <paramref name="tag"/> and <paramref name="version"/>.
    /// </summary>
    /// <exception cref="FormatException">another tag or version, or too short to hold them.</exception>
    public StateBlobReader(ReadOnlySpan<byte> blob, string tag, uint version, string what)
    {
        _blob = blob;
        _what = what;
        _offset = 0;
        if (blob.Length < 8) throw new FormatException($"{what}: {blob.Length} bytes is too short for a state blob");
        string found = Encoding.ASCII.GetString(blob[..4]);
        if (found != tag) throw new FormatException($"{what}: the state is tagged '{Printable(found)}', expected '{tag}' (another kind of state)");
        _offset = 4;
        uint v = U32();
        if (v != version) throw new FormatException($"{what}: state format version {v}, this build reads version {version}");
    }

    private static string Printable(string s) => new([.. s.Select(c => c is >= ' ' and < (char)0x7f ? c : '?')]);

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _blob.Length - _offset < count)
            throw new FormatException($"{_what}: the state ends at byte {_blob.Length}, {count} more bytes were expected at {_offset} (truncated)");
        var s = _blob.Slice(_offset, count);
        _offset += count;
        return s;
    }

    /// <summary>Reads a byte.</summary>
    public byte U8() => Take(1)[0];

    /// <summary>Reads a boolean byte.</summary>
    public bool Bool() => Take(1)[0] != 0;

    /// <summary>Reads a 32-bit value.</summary>
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads a 64-bit value.</summary>
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Reads a signed 64-bit value.</summary>
    public long I64() => unchecked((long)U64());

    /// <summary>Reads a length-prefixed byte string.</summary>
    public ReadOnlySpan<byte> Bytes() => Take((int)Math.Min(U32(), int.MaxValue));

    /// <summary>Checks that the whole blob was read.</summary>
    public readonly void End()
    {
        if (_offset != _blob.Length) throw new FormatException($"{_what}: {_blob.Length - _offset} unexpected bytes after the state");
    }
}
