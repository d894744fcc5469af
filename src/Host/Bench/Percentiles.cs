namespace Actorvisor.Host.Bench;

/// <summary>Percentiles of benchmark samples (nearest rank), shared by the benchmarks so they all count alike.</summary>
public static class Percentiles
{
    /// <summary>The nearest-rank <paramref name="p"/> percentile (0..1] of <paramref name="sorted"/> (ascending).</summary>
    public static double Of(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) throw new ArgumentException("no samples", nameof(sorted));
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    /// <summary>The median of <paramref name="values"/> (any order): the middle value, or the mean of the middle two.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no values", nameof(values));
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
