using System.Globalization;
using System.Text.RegularExpressions;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>
/// The #define lines of an installed kernel UAPI header, evaluated for the few forms the VFIO constants use:
/// a number, a character (<c>(';')</c>), <c>(1 &lt;&lt; n)</c>, <c>NAME + n</c> and <c>_IO(type, nr)</c>.
/// It lets a test check the project's constants against the header instead of against literals.
/// </summary>
public sealed partial class LinuxHeader
{
    private readonly Dictionary<string, string> _defines;

    private LinuxHeader(Dictionary<string, string> defines) => _defines = defines;

    /// <summary>Reads the object-like #defines of <paramref name="path"/> (comments stripped).</summary>
    public static LinuxHeader Read(string path)
    {
        var defines = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            var m = Define().Match(line);
            if (m.Success) defines[m.Groups[1].Value] = Comment().Replace(m.Groups[2].Value, "").Trim();
        }
        return new LinuxHeader(defines);
    }

    /// <summary>The value of <paramref name="name"/>; throws if it is missing or of a form this class does not evaluate.</summary>
    public ulong Value(string name) =>
        _defines.TryGetValue(name, out var text) ? Evaluate(text) : throw new KeyNotFoundException($"no #define {name}");

    private ulong Evaluate(string text)
    {
        text = text.Trim();
        while (text.StartsWith('(') && Matching(text) == text.Length - 1) text = text[1..^1].Trim();
        if (text.Length == 3 && text[0] == '\'' && text[2] == '\'') return text[1];
        if (text.StartsWith("_IO(", StringComparison.Ordinal) && text.EndsWith(')'))
        {
            var args = text[4..^1].Split(',', 2);
            return Evaluate(args[0]) << 8 | Evaluate(args[1]); // _IOC(_IOC_NONE, type, nr, 0)
        }
        int shift = text.IndexOf("<<", StringComparison.Ordinal);
        if (shift > 0) return Evaluate(text[..shift]) << (int)Evaluate(text[(shift + 2)..]);
        int plus = text.IndexOf('+');
        if (plus > 0) return Evaluate(text[..plus]) + Evaluate(text[(plus + 1)..]);
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) return ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (ulong.TryParse(text.TrimEnd('U', 'u', 'L', 'l'), NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return n;
        return Value(text);
    }

    private static int Matching(string text)
    {
        int depth = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')' && --depth == 0) return i;
        }
        return -1;
    }

    [GeneratedRegex(@"^#define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")]
    private static partial Regex Define();

    [GeneratedRegex(@"/\*.*?\*/")]
    private static partial Regex Comment();
}
