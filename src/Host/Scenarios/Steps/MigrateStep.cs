using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>migrate</c>: moves a running VM of a cluster node to another node by live migration.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="To">The node to move it to (a declared cluster node's name); null lets the cluster's placement choose.</param>
/// <param name="MaxDowntime">The pause to aim for at switchover; null for the cluster's default (100 ms).</param>
public sealed record MigrateStep(SourceLocation Location, string Vm, string? To, TimeSpan? MaxDowntime) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "migrate";

    /// <inheritdoc />
    public override string Describe() => $"migrate {Vm} to {To ?? "the node placement picks"}";
}

/// <summary>
/// The <c>migrate</c> step: the API's migrate request for the VM, followed to its end (the step fails unless it
/// completed); the VM's node is the target from then on. Only cluster VMs migrate (an in-process node refuses).
/// </summary>
internal sealed class MigrateKind() : StepKind<MigrateStep>("migrate")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "to", "max-downtime");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var to = f.String("to");
        TimeSpan? maxDowntime = null;
        if (f.String("max-downtime") is { } text)
        {
            if (!Durations.TryParse(text, out var parsed) || parsed < TimeSpan.FromMilliseconds(1))
            {
                f.Error("max-downtime", $"'{text}' is not a duration of at least 1ms (e.g. 100ms)");
                return null;
            }
            maxDowntime = parsed;
        }
        return vm is null ? null : new MigrateStep(syntax.At, vm, to, maxDowntime);
    }

    /// <inheritdoc />
    protected override string? VmOf(MigrateStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(MigrateStep step, ScenarioRun run, StepContext context) =>
        StepOutcome.Saw(await run.Vm(step.Vm, step).MigrateAsync(step.To, step.MaxDowntime, context.CancellationToken).ConfigureAwait(false));
}
