using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>What one step did.</summary>
/// <param name="Path">Its position: "3" for the third top-level step, "3.2" for the second inside it, "3#5.2" in iteration 5 of a repeat.</param>
/// <param name="Step">The step.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Elapsed">How long it ran.</param>
/// <param name="Failure">Why it failed, if it did.</param>
/// <param name="Children">Results of the steps inside it (repeat: the last iteration run; parallel: each branch).</param>
/// <param name="Detail">A short note for the report (e.g. "10/10 iterations", the measured duration).</param>
public sealed record StepResult(
    string Path,
    Step Step,
    StepStatus Status,
    TimeSpan Elapsed,
    StepFailure? Failure = null,
    IReadOnlyList<StepResult>? Children = null,
    string? Detail = null)
{
    /// <summary>The innermost failed result under this one (itself if no child failed), for pointing at the cause.</summary>
    public StepResult Cause => Children?.FirstOrDefault(c => c.Status == StepStatus.Failed)?.Cause ?? this;
}
