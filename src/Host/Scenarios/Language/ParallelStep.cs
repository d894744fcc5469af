namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>parallel</c>: runs every step at once and waits for all; fails if any fails.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Steps">The branches (each one step; use repeat with times 1 or measure to group several).</param>
public sealed record ParallelStep(SourceLocation Location, IReadOnlyList<Step> Steps) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "parallel";

    /// <inheritdoc />
    public override string Describe() => $"parallel ({Steps.Count} branches)";
}
