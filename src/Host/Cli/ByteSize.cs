using System.Globalization;
using System.Text.RegularExpressions;

namespace Actorvisor.Host.Cli;

/// <summary>Sizes written the way operators write them: parses 64M, 1G, 512KiB, 4096, 0x10000; prints "64 MiB", "1.5 GiB".</summary>
public static partial class ByteSize
{
    [GeneratedRegex(@"^\s*(?<n>0x[0-9a-f_]+|[0-9_]+)\s*(?<unit>[kmg])?(i?b)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    /// <summary>Parses <paramref name="text"/>; returns false with a message naming the problem.</summary>
    public static bool TryParse(string text, out ulong bytes, out string error)
    {
        bytes = 0;
        error = "";
        var m = Pattern().Match(text);
        if (!m.Success || !TryParseNumber(m.Groups["n"].Value, out var n))
        {
            error = $"'{text}' is not a size (examples: 64M, 1G, 65536, 0x10000)";
            return false;
        }
        int shift = m.Groups["unit"].Value.ToUpperInvariant() switch { "K" => 10, "M" => 20, "G" => 30, _ => 0 };
        if (n > ulong.MaxValue >> shift) { error = $"'{text}' is too large"; return false; }
        bytes = n << shift;
        return true;
    }

    /// <summary>Parses a decimal or 0x-prefixed hexadecimal number (underscores allowed).</summary>
    public static bool TryParseNumber(string text, out ulong value)
    {
        var t = text.Trim().Replace("_", "");
        return t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>"64 MiB", "1.5 GiB".</summary>
    public static string Print(ulong bytes) =>
        bytes >= 1UL << 30 ? (bytes / (double)(1UL << 30)).ToString("0.## 'GiB'", CultureInfo.InvariantCulture) : (bytes / (double)(1UL << 20)).ToString("0.## 'MiB'", CultureInfo.InvariantCulture);
}
