namespace Actorvisor.Host.Scenarios.Running;

/// <summary>How a step ended.</summary>
public enum StepStatus
{
    /// <summary>It did what it expected.</summary>
    Passed,
    /// <summary>An expectation failed, a request was refused, it timed out or it threw.</summary>
    Failed,
    /// <summary>It did not run: an earlier step failed (or a parallel branch was cancelled).</summary>
    Skipped,
}
