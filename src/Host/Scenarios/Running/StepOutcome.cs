namespace Actorvisor.Host.Scenarios.Running;

/// <summary>What a step that passed reports: the results of the steps inside it, if any, and a detail line.</summary>
/// <param name="Children">The results of its inner steps (repeat, parallel, measure); a failed child fails the step.</param>
/// <param name="Detail">What it saw, for reports (e.g. "exited with 0"); null for nothing to add.</param>
internal sealed record StepOutcome(IReadOnlyList<StepResult>? Children, string? Detail)
{
    /// <summary>Passed, nothing to report.</summary>
    public static StepOutcome Passed { get; } = new(null, null);

    /// <summary>Passed, reporting <paramref name="detail"/>.</summary>
    public static StepOutcome Saw(string? detail) => new(null, detail);
}
