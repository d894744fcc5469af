using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The lifecycle steps (create, start, pause, resume, stop, destroy): one request to one VM, optionally expected to be refused.</summary>
internal sealed class LifecycleKind() : StepKind<LifecycleStep>("create", "start", "pause", "resume", "stop", "destroy")
{
    private static readonly IReadOnlyDictionary<string, LifecycleAction> Actions =
        Enum.GetValues<LifecycleAction>().ToDictionary(a => a.ToString().ToLowerInvariant());

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var action = Actions[syntax.Keyword];
        var keyword = syntax.Keyword;
        if (syntax.Value is YamlScalarNode s && !Fields.IsNull(s)) return new LifecycleStep(syntax.At, action, s.Value!.Trim(), null);
        if (syntax.Value is YamlScalarNode)
        {
            syntax.Error($"{keyword}: name the VM, e.g. '- {keyword}: web'");
            return null;
        }
        var f = syntax.Fields("vm", "expect-error");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var expectError = f.String("expect-error");
        return vm is null ? null : new LifecycleStep(syntax.At, action, vm, expectError);
    }

    /// <inheritdoc />
    protected override string? VmOf(LifecycleStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(LifecycleStep step, ScenarioRun run, StepContext context)
    {
        var token = context.CancellationToken;
        try
        {
            switch (step.Action)
            {
                case LifecycleAction.Create: await run.CreateVmAsync(step.Vm, token).ConfigureAwait(false); break;
                case LifecycleAction.Start: await run.Vm(step.Vm, step).StartAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Pause: await run.Vm(step.Vm, step).PauseAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Resume: await run.Vm(step.Vm, step).ResumeAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Stop: await run.Vm(step.Vm, step).StopAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Destroy: await run.Vm(step.Vm, step).DestroyAsync(token).ConfigureAwait(false); break;
            }
        }
        catch (VmRequestRefusedException refused) when (step.ExpectError is not null)
        {
            if (refused.Message.Contains(step.ExpectError, StringComparison.OrdinalIgnoreCase)) return StepOutcome.Saw($"refused as expected: {refused.Message}");
            throw new StepFailedException(run.WithSerial(new StepFailure($"{step.Keyword} {step.Vm} was refused for another reason",
                $"a refusal containing \"{step.ExpectError}\"", refused.Message), step.Vm));
        }
        if (step.ExpectError is not null)
            throw new StepFailedException(run.WithSerial(new StepFailure($"{step.Keyword} {step.Vm} was accepted, but the scenario expects it to be refused",
                $"a refusal containing \"{step.ExpectError}\"", "the request succeeded"), step.Vm));
        return StepOutcome.Passed;
    }
}
