namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>measure</c>: runs <see cref="Steps"/> and records how long they took under <see cref="Name"/>; fails if longer than <see cref="AtMost"/>.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Name">The measurement's name in the summary (samples with the same name are aggregated).</param>
/// <param name="Steps">What is timed.</param>
/// <param name="AtMost">Optional limit on the duration.</param>
public sealed record MeasureStep(SourceLocation Location, string Name, IReadOnlyList<Step> Steps, TimeSpan? AtMost) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "measure";

    /// <inheritdoc />
    public override string Describe() => $"measure {Name}" + (AtMost is { } max ? $" (at most {Durations.Format(max)})" : "");
}
