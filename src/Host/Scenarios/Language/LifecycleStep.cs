namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>create</c>, <c>start</c>, <c>pause</c>, <c>resume</c>, <c>stop</c> or <c>destroy</c> of one VM.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Action">The request.</param>
/// <param name="Vm">The VM's name.</param>
/// <param name="ExpectError">When set, the request must be refused with a message containing this text.</param>
public sealed record LifecycleStep(SourceLocation Location, LifecycleAction Action, string Vm, string? ExpectError) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => Action.ToString().ToLowerInvariant();

    /// <inheritdoc />
    public override string Describe() => ExpectError is null ? $"{Keyword} {Vm}" : $"{Keyword} {Vm} (expect refusal: \"{ExpectError}\")";
}
