using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>snapshot</c>: writes a snapshot of a paused (or created) VM, named <see cref="To"/>, on its node.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="To">The snapshot's name (a plain name, as the API's <c>vm snapshot --to</c> takes it).</param>
/// <param name="Resume">When set, the VM runs again once the snapshot is written.</param>
public sealed record SnapshotStep(SourceLocation Location, string Vm, string To, bool Resume) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "snapshot";

    /// <inheritdoc />
    public override string Describe() => $"snapshot {Vm} as '{To}'{(Resume ? " and resume it" : "")}";
}

/// <summary>
/// The <c>snapshot</c> step: snapshots the VM on its node (the API's snapshot request on a cluster node, the VM actor's
/// on an in-process one) and remembers the snapshot's node and the console the VM had printed, for <c>restore</c>.
/// </summary>
internal sealed class SnapshotKind() : StepKind<SnapshotStep>("snapshot")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "to", "resume");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var to = f.String("to", required: true);
        var resume = f.Bool("resume") ?? false;
        if (to is not null && SnapshotSteps.NameProblem(to) is { } problem)
        {
            f.Error("to", problem);
            return null;
        }
        return vm is null || to is null ? null : new SnapshotStep(syntax.At, vm, to, resume);
    }

    /// <inheritdoc />
    protected override string? VmOf(SnapshotStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(SnapshotStep step, StepCheck check)
    {
        var taken = SnapshotSteps.All(check.Scenario.Steps).Where(s => s.To == step.To).ToList();
        if (taken.Count > 1 && !ReferenceEquals(taken[0], step))
            check.Error(step.Location, $"snapshot: '{step.To}' is already taken by the snapshot step at {taken[0].Location}; give each snapshot its own name");
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(SnapshotStep step, ScenarioRun run, StepContext context) =>
        StepOutcome.Saw(await run.SnapshotVmAsync(step, context.CancellationToken).ConfigureAwait(false));
}
