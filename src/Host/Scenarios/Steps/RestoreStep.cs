using Actorvisor.Hardware.Snapshots;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>restore</c>: creates VM <see cref="Vm"/> (state Created) from snapshot <see cref="From"/>, its memory brought back in <see cref="Mode"/>.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM to create: declared, not yet created; the snapshot's machine and guest state are what it runs.</param>
/// <param name="From">The name of a snapshot an earlier <c>snapshot</c> step took.</param>
/// <param name="Mode">Eager, lazy (the default) or mmap.</param>
public sealed record RestoreStep(SourceLocation Location, string Vm, string From, RestoreMode Mode) : Step(Location)
{
    /// <summary>The modes by their YAML names.</summary>
    public static IReadOnlyDictionary<string, RestoreMode> Modes { get; } =
        Enum.GetValues<RestoreMode>().ToDictionary(m => m.ToString().ToLowerInvariant());

    /// <inheritdoc />
    public override string Keyword => "restore";

    /// <inheritdoc />
    public override string Describe() => $"restore {Vm} from '{From}' ({Mode.ToString().ToLowerInvariant()})";
}

/// <summary>
/// The <c>restore</c> step: creates the VM from a snapshot on the node that holds it (the API's restore request on a
/// cluster, <c>MachineVm.RestoreSpec</c> on an in-process node). The VM's console starts with what the snapshotted VM
/// had printed when it was snapshotted, so that its output reads as one run.
/// </summary>
internal sealed class RestoreKind() : StepKind<RestoreStep>("restore")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "from", "mode");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var from = f.String("from", required: true);
        var mode = f.Has("mode") ? f.Choice("mode", RestoreStep.Modes) : RestoreMode.Lazy;
        if (from is not null && SnapshotSteps.NameProblem(from) is { } problem)
        {
            f.Error("from", problem);
            return null;
        }
        return vm is null || from is null || mode is null ? null : new RestoreStep(syntax.At, vm, from, mode.Value);
    }

    /// <inheritdoc />
    protected override string? VmOf(RestoreStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(RestoreStep step, StepCheck check)
    {
        var snapshots = SnapshotSteps.All(check.Scenario.Steps).ToList();
        var source = snapshots.FirstOrDefault(s => s.To == step.From);
        if (source is null)
        {
            var taken = snapshots.Count == 0 ? "none (take one with a snapshot step)" : string.Join(", ", snapshots.Select(s => $"'{s.To}'"));
            check.Error(step.Location, $"restore: 'from' names snapshot '{step.From}', which no snapshot step takes{Suggestions.DidYouMean(step.From, snapshots.Select(s => s.To))}; snapshots taken: {taken}");
            return;
        }
        if (source.Vm == step.Vm)
            check.Error(step.Location, $"restore: 'vm' is '{step.Vm}', the snapshotted VM itself; restore into another declared VM (a new name)");
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(RestoreStep step, ScenarioRun run, StepContext context) =>
        StepOutcome.Saw(await run.RestoreVmAsync(step, context.CancellationToken).ConfigureAwait(false));
}
