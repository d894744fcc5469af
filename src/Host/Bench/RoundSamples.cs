using System.Globalization;

namespace Actorvisor.Host.Bench;

/// <summary>
/// One figure measured once per round of a benchmark: owns the per-round values and reports them as the median
/// with the minimum and maximum (keys <c>name</c>, <c>name_min</c>, <c>name_max</c>), so a reader sees both the
/// result and how far the rounds spread on a shared machine.
/// </summary>
public sealed class RoundSamples
{
    private readonly List<double> _values = new();

    /// <summary>A figure printed under <paramref name="key"/> with <paramref name="format"/> (e.g. "0.00").</summary>
    public RoundSamples(string key, string format)
    {
        Key = key;
        Format = format;
    }

    /// <summary>The key of the median; the spread goes under <c>{Key}_min</c> and <c>{Key}_max</c>.</summary>
    public string Key { get; }

    /// <summary>The number format of the printed values.</summary>
    public string Format { get; }

    /// <summary>The values so far, in round order.</summary>
    public IReadOnlyList<double> Values => _values;

    /// <summary>Records the value of one round.</summary>
    public void Add(double value) => _values.Add(value);

    /// <summary>The median of the rounds (the mean of the middle two for an even count).</summary>
    public double Median => Percentiles.Median(_values);

    /// <summary>The smallest value of any round.</summary>
    public double Min => _values.Min();

    /// <summary>The largest value of any round.</summary>
    public double Max => _values.Max();

    /// <summary>The three figures: median, min, max.</summary>
    public IEnumerable<(string Key, string Value)> Figures()
    {
        yield return (Key, Print(Median));
        yield return ($"{Key}_min", Print(Min));
        yield return ($"{Key}_max", Print(Max));
    }

    /// <summary>The values of every round, for a progress log.</summary>
    public string Describe() => string.Join(" ", _values.Select(Print));

    private string Print(double value) => value.ToString(Format, CultureInfo.InvariantCulture);
}
