namespace Actorvisor.Host.Scenarios.Running;

/// <summary>The samples a scenario took under one measure name.</summary>
/// <param name="Name">The measure's name.</param>
/// <param name="Samples">Each run of the measure step, in order.</param>
public sealed record Measurement(string Name, IReadOnlyList<TimeSpan> Samples)
{
    /// <summary>Shortest sample.</summary>
    public TimeSpan Min => Samples.Min();

    /// <summary>Longest sample.</summary>
    public TimeSpan Max => Samples.Max();

    /// <summary>Arithmetic mean.</summary>
    public TimeSpan Mean => TimeSpan.FromTicks((long)Samples.Average(s => s.Ticks));

    /// <summary>Median (the lower middle for an even count).</summary>
    public TimeSpan Median => Samples.Order().ElementAt((Samples.Count - 1) / 2);
}
