namespace Actorvisor.Host.Scenarios.Running;

/// <summary>Thrown by a step that did not get what it expected; carries the details for the report.</summary>
public sealed class StepFailedException(StepFailure failure) : Exception(failure.Message)
{
    /// <summary>The details.</summary>
    public StepFailure Failure { get; } = failure;
}
