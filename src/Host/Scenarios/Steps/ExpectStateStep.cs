using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>expect-state</c>: the VM is in <see cref="State"/>, or reaches it before the step's timeout.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="State">The expected state.</param>
public sealed record ExpectStateStep(SourceLocation Location, string Vm, VmStateName State) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-state";

    /// <inheritdoc />
    public override string Describe() => $"expect {Vm} {State.ToString().ToLowerInvariant()}";
}

/// <summary>The <c>expect-state</c> step: waits until the VM is in the state, or in one it cannot leave for it.</summary>
internal sealed class ExpectStateKind() : StepKind<ExpectStateStep>("expect-state")
{
    private static readonly IReadOnlyDictionary<string, VmStateName> States =
        Enum.GetValues<VmStateName>().ToDictionary(s => s.ToString().ToLowerInvariant());

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "state");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var state = f.Choice("state", States, required: true);
        return vm is null || state is null ? null : new ExpectStateStep(syntax.At, vm, state.Value);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectStateStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectStateStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        string expected = step.State.ToString().ToLowerInvariant();
        // Settled: the expected state, or one the VM can no longer leave for it. A stopped or failed VM settles
        // once its end has arrived too (the last event), so the failure can say how it ended; it can still be
        // destroyed, so it does not settle a wait for destroyed.
        var seen = await ScenarioRun.WaitOrFail(vm, o =>
            {
                var s = o.State;
                bool settled = s == step.State || s switch
                {
                    VmStateName.Stopped or VmStateName.Failed => o.End is not null && step.State != VmStateName.Destroyed,
                    VmStateName.Destroyed or VmStateName.Lost => true,
                    _ => false,
                };
                return settled ? (object)s : null;
            }, context,
            () => new StepFailure($"{step.Vm} did not become {expected} within {Durations.Format(context.Timeout!.Value)}", expected,
                vm.Observation.State.ToString().ToLowerInvariant(), step.Vm, vm.Observation.SerialTail()))
            .ConfigureAwait(false);
        var state = (VmStateName)seen;
        if (state != step.State)
        {
            var end = vm.Observation.End is { } e ? $" ({e})" : "";
            throw new StepFailedException(new StepFailure($"{step.Vm} is {state.ToString().ToLowerInvariant()}{end}, not {expected}", expected,
                state.ToString().ToLowerInvariant() + end, step.Vm, vm.Observation.SerialTail()));
        }
        return StepOutcome.Passed;
    }
}
