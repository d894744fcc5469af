using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The <c>expect-outcome</c> step: waits for the VM's end and checks how it ended (and, for a failure, why).</summary>
internal sealed class ExpectOutcomeKind() : StepKind<ExpectOutcomeStep>("expect-outcome")
{
    private static readonly IReadOnlyDictionary<string, OutcomeKind> Outcomes =
        Enum.GetValues<OutcomeKind>().ToDictionary(s => s.ToString().ToLowerInvariant());

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "outcome", "reason");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var outcome = f.Choice("outcome", Outcomes, required: true);
        var reason = f.String("reason");
        if (reason is not null && outcome is not OutcomeKind.Failed and not null)
        {
            f.Error("reason", "only applies to outcome 'failed' (the reason a VM failed)");
            return null;
        }
        return vm is null || outcome is null ? null : new ExpectOutcomeStep(syntax.At, vm, outcome.Value, reason);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectOutcomeStep step) => step.Vm;

    /// <inheritdoc />
    protected override Task<StepOutcome> RunAsync(ExpectOutcomeStep step, ScenarioRun run, StepContext context) =>
        run.ExpectEndAsync(step.Vm, context,
            step.Outcome.ToString().ToLowerInvariant() + (step.ReasonContains is null ? "" : $" with a reason containing \"{step.ReasonContains}\""),
            end => end.Kind == step.Outcome && (step.ReasonContains is null || (end.Reason ?? "").Contains(step.ReasonContains, StringComparison.OrdinalIgnoreCase)));
}
