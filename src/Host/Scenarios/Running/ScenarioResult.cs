using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>What running one scenario produced.</summary>
/// <param name="Scenario">The scenario.</param>
/// <param name="Steps">One result per top-level step (skipped ones after a failure included).</param>
/// <param name="Measurements">Durations recorded by measure steps, by name.</param>
/// <param name="Elapsed">Wall-clock time of the run, teardown included.</param>
/// <param name="Failure">Why the scenario failed outside any step (a node that would not start, a teardown that hung), or null.</param>
public sealed record ScenarioResult(
    Scenario Scenario,
    IReadOnlyList<StepResult> Steps,
    IReadOnlyList<Measurement> Measurements,
    TimeSpan Elapsed,
    StepFailure? Failure = null)
{
    /// <summary>True if every step passed and nothing else failed.</summary>
    public bool Passed => Failure is null && Steps.All(s => s.Status == StepStatus.Passed);

    /// <summary>The first failed top-level step, or null.</summary>
    public StepResult? FailedStep => Steps.FirstOrDefault(s => s.Status == StepStatus.Failed);
}
