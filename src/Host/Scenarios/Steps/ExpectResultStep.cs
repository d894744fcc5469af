using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>expect-result</c>: the guest ends, before the step's timeout, by writing result code <see cref="Code"/>.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Code">The expected result code (0..255).</param>
public sealed record ExpectResultStep(SourceLocation Location, string Vm, int Code) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-result";

    /// <inheritdoc />
    public override string Describe() => $"expect {Vm} to exit with {Code}";
}

/// <summary>The <c>expect-result</c> step: waits for the VM's end and checks it exited with the code.</summary>
internal sealed class ExpectResultKind() : StepKind<ExpectResultStep>("expect-result")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "code");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var code = f.Int("code", 0, 255, required: true);
        return vm is null || code is null ? null : new ExpectResultStep(syntax.At, vm, code.Value);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectResultStep step) => step.Vm;

    /// <inheritdoc />
    protected override Task<StepOutcome> RunAsync(ExpectResultStep step, ScenarioRun run, StepContext context) =>
        run.ExpectEndAsync(step.Vm, context, $"exit with result code {step.Code}", end => end.Kind == OutcomeKind.Exited && end.ResultCode == step.Code);
}
