using System.Globalization;

namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// A 48-bit Ethernet MAC address as a network card carries it (six bytes, first on the wire first); written
/// "52:54:00:12:34:56". A guest's card needs a unicast address: <see cref="Parse"/> refuses a multicast one.
/// </summary>
public readonly record struct MacAddress
{
    /// <summary>Bytes of an address.</summary>
    public const int Length = 6;

    private readonly ulong _value; // byte 0 in bits 40-47

    private MacAddress(ulong value) => _value = value;

    /// <summary>The address's bytes, first on the wire first.</summary>
    public byte[] Bytes()
    {
        var b = new byte[Length];
        for (int i = 0; i < Length; i++) b[i] = (byte)(_value >> (8 * (Length - 1 - i)));
        return b;
    }

    /// <summary>The address of <paramref name="bytes"/> (six of them).</summary>
    public static MacAddress FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length) throw new ArgumentException($"a MAC address has {Length} bytes, not {bytes.Length}", nameof(bytes));
        ulong v = 0;
        foreach (var b in bytes) v = (v << 8) | b;
        return new MacAddress(v);
    }

    /// <summary>
    /// A stable, locally administered unicast address for <paramref name="seed"/> (e.g. an interface name): the first
    /// byte 0x02, the rest from a hash of the seed, so the same interface keeps its address across boots.
    /// </summary>
    public static MacAddress LocallyAdministered(string seed)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        Span<byte> b = stackalloc byte[Length];
        b[0] = 0x02;
        hash.AsSpan(0, Length - 1).CopyTo(b[1..]);
        return FromBytes(b);
    }

    /// <summary>Parses six two-digit hexadecimal bytes separated by ':' (or '-'); a multicast address is refused.</summary>
    /// <exception cref="FormatException">the text is not such an address.</exception>
    public static MacAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(text.Contains('-') ? '-' : ':');
        if (parts.Length != Length || parts.Any(p => p.Length != 2))
            throw new FormatException($"'{text}' is not a MAC address (six hexadecimal bytes, e.g. 52:54:00:12:34:56)");
        Span<byte> b = stackalloc byte[Length];
        for (int i = 0; i < Length; i++)
        {
            if (!byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out b[i]))
                throw new FormatException($"'{text}' is not a MAC address ('{parts[i]}' is not a hexadecimal byte)");
        }
        if ((b[0] & 1) != 0) throw new FormatException($"'{text}' is a multicast address; a network card needs a unicast one (even first byte)");
        return FromBytes(b);
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(':', Bytes().Select(x => x.ToString("x2", CultureInfo.InvariantCulture)));
}
