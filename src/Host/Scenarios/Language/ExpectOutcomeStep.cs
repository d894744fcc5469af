namespace Actorvisor.Host.Scenarios.Language;

/// <summary><c>expect-outcome</c>: the VM ends, before the step's timeout, the way <see cref="Outcome"/> says.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Outcome">How it must end.</param>
/// <param name="ReasonContains">For failures: text the failure reason must contain.</param>
public sealed record ExpectOutcomeStep(SourceLocation Location, string Vm, OutcomeKind Outcome, string? ReasonContains) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-outcome";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {Vm} {Outcome.ToString().ToLowerInvariant()}" + (ReasonContains is null ? "" : $" (\"{ReasonContains}\")");
}
