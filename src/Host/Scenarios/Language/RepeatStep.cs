namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>repeat</c>: runs <see cref="Steps"/> <see cref="Times"/> times, stopping at the first failure.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Times">How many times (at least 1).</param>
/// <param name="Steps">The body.</param>
public sealed record RepeatStep(SourceLocation Location, int Times, IReadOnlyList<Step> Steps) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "repeat";

    /// <inheritdoc />
    public override string Describe() => $"repeat {Times}x ({Steps.Count} step{(Steps.Count == 1 ? "" : "s")})";
}
