using System.Globalization;
using System.Text.RegularExpressions;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Durations as scenarios write them: 250ms, 5s, 1.5s, 2m.</summary>
public static partial class Durations
{
    [GeneratedRegex(@"^\s*(?<n>[0-9]+(\.[0-9]+)?)\s*(?<unit>ms|s|m)\s*$")]
    private static partial Regex Pattern();

    /// <summary>Parses <paramref name="text"/>; false if it is not a number followed by ms, s or m.</summary>
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var m = Pattern().Match(text);
        if (!m.Success) return false;
        double n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        double ms = m.Groups["unit"].Value switch { "ms" => n, "s" => n * 1000, _ => n * 60_000 };
        if (ms > TimeSpan.FromDays(1).TotalMilliseconds) return false;
        duration = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>"250ms", "1.5s", "2m": the shortest exact form.</summary>
    public static string Format(TimeSpan duration)
    {
        double ms = duration.TotalMilliseconds;
        if (ms < 1000) return $"{ms.ToString("0.###", CultureInfo.InvariantCulture)}ms";
        if (ms < 120_000 || ms % 60_000 != 0) return $"{(ms / 1000).ToString("0.###", CultureInfo.InvariantCulture)}s";
        return $"{(ms / 60_000).ToString(CultureInfo.InvariantCulture)}m";
    }
}
