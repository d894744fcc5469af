using System.Buffers.Binary;

namespace Actorvisor.Hardware.Acpi;

/// <summary>
/// Writes the few ACPI Machine Language (AML) terms Actorvisor's DSDT needs, encoded by hand per ACPI 6.5 chapter 20:
/// Scope and Device (with their PkgLength), Name bound to an integer, a string, an EISA id or a resource template.
/// Owns only the bytes written so far; a body is written by a nested writer so its length is known before its
/// PkgLength is.
/// </summary>
public sealed class AmlWriter
{
    private const byte ZeroOp = 0x00, OneOp = 0x01, NameOp = 0x08, BytePrefix = 0x0a, WordPrefix = 0x0b,
        DWordPrefix = 0x0c, StringPrefix = 0x0d, QWordPrefix = 0x0e, ScopeOp = 0x10, BufferOp = 0x11,
        ExtOpPrefix = 0x5b, DeviceOp = 0x82, RootChar = 0x5c;

    private readonly List<byte> _bytes = [];

    /// <summary>The AML written so far.</summary>
    public byte[] ToArray() => [.. _bytes];

    /// <summary><c>Scope (path) { body }</c>; <paramref name="path"/> is one name segment, optionally rooted ("\_SB_").</summary>
    public AmlWriter Scope(string path, Action<AmlWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var inner = new AmlWriter();
        inner.NameString(path);
        body(inner);
        _bytes.Add(ScopeOp);
        AddPackage(inner._bytes);
        return this;
    }

    /// <summary><c>Device (name) { body }</c>.</summary>
    public AmlWriter Device(string name, Action<AmlWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var inner = new AmlWriter();
        inner.NameString(name);
        body(inner);
        _bytes.Add(ExtOpPrefix);
        _bytes.Add(DeviceOp);
        AddPackage(inner._bytes);
        return this;
    }

    /// <summary><c>Name (name, value)</c> with an integer in its shortest encoding.</summary>
    public AmlWriter Name(string name, ulong value)
    {
        _bytes.Add(NameOp);
        NameString(name);
        Integer(value);
        return this;
    }

    /// <summary><c>Name (name, "text")</c>: an ASCII string.</summary>
    public AmlWriter Name(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Any(c => c is < (char)1 or > (char)0x7f)) throw new ArgumentException($"an AML string is ASCII without NUL: '{text}'", nameof(text));
        _bytes.Add(NameOp);
        NameString(name);
        _bytes.Add(StringPrefix);
        foreach (char c in text) _bytes.Add((byte)c);
        _bytes.Add(0);
        return this;
    }

    /// <summary><c>Name (name, EisaId ("PNP0501"))</c>: the compressed 32-bit id.</summary>
    public AmlWriter NameEisaId(string name, string eisaId)
    {
        _bytes.Add(NameOp);
        NameString(name);
        Integer(EisaId(eisaId));
        return this;
    }

    /// <summary><c>Name (name, ResourceTemplate () { ... })</c>: a buffer holding the descriptors and the end tag.</summary>
    public AmlWriter Name(string name, AmlResourceTemplate resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        _bytes.Add(NameOp);
        NameString(name);
        var descriptors = resources.ToArray();
        var inner = new AmlWriter();
        inner.Integer((ulong)descriptors.Length);
        inner._bytes.AddRange(descriptors);
        _bytes.Add(BufferOp);
        AddPackage(inner._bytes);
        return this;
    }

    /// <summary>
    /// The PkgLength encoding for a body of <paramref name="bodyLength"/> bytes. The encoded length counts the PkgLength
    /// bytes themselves: one byte up to 63 in all, else a lead byte (bits 7-6: how many bytes follow, bits 3-0: the low
    /// nibble) and 1-3 bytes with the rest, up to 2^28 - 1.
    /// </summary>
    public static byte[] PkgLength(int bodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        if (bodyLength + 1 <= 0x3f) return [(byte)(bodyLength + 1)];
        for (int follow = 1; follow <= 3; follow++)
        {
            long total = bodyLength + 1L + follow;
            if (total >= 1L << (4 + 8 * follow)) continue;
            var encoded = new byte[1 + follow];
            encoded[0] = (byte)((follow << 6) | (int)(total & 0xf));
            for (int i = 1; i <= follow; i++) encoded[i] = (byte)(total >> (4 + 8 * (i - 1)));
            return encoded;
        }
        throw new ArgumentOutOfRangeException(nameof(bodyLength), bodyLength, "an AML package holds less than 2^28 bytes");
    }

    /// <summary>The 32-bit compressed EISA id of "AAA####" (three letters, four hex digits) as AML stores it.</summary>
    public static uint EisaId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length != 7 || !id[..3].All(c => c is >= 'A' and <= 'Z') || !id[3..].All(Uri.IsHexDigit))
            throw new ArgumentException($"an EISA id is three capital letters and four hex digits, not '{id}'", nameof(id));
        uint value = ((uint)(id[0] - 0x40) << 26) | ((uint)(id[1] - 0x40) << 21) | ((uint)(id[2] - 0x40) << 16)
                     | uint.Parse(id[3..], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        return BinaryPrimitives.ReverseEndianness(value);
    }

    private void Integer(ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        switch (value)
        {
            case 0: _bytes.Add(ZeroOp); break;
            case 1: _bytes.Add(OneOp); break;
            case <= byte.MaxValue: _bytes.Add(BytePrefix); _bytes.Add((byte)value); break;
            case <= ushort.MaxValue: _bytes.Add(WordPrefix); _bytes.AddRange(buffer[..2]); break;
            case <= uint.MaxValue: _bytes.Add(DWordPrefix); _bytes.AddRange(buffer[..4]); break;
            default: _bytes.Add(QWordPrefix); _bytes.AddRange(buffer); break;
        }
    }

    // A NameString of one segment, optionally from the root: "\_SB_" or "VR00"; a segment shorter than four characters is padded with '_'.
    private void NameString(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var segment = path;
        if (segment[0] == '\\')
        {
            _bytes.Add(RootChar);
            segment = segment[1..];
        }
        if (segment.Length is 0 or > 4 || !(segment[0] is >= 'A' and <= 'Z' or '_') || !segment.All(c => c is >= 'A' and <= 'Z' or >= '0' and <= '9' or '_'))
            throw new ArgumentException($"'{path}' is not one AML name segment (a capital letter or '_', then up to three of those or digits)", nameof(path));
        foreach (char c in segment.PadRight(4, '_')) _bytes.Add((byte)c);
    }

    private void AddPackage(List<byte> body)
    {
        _bytes.AddRange(PkgLength(body.Count));
        _bytes.AddRange(body);
    }
}
