using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// <c>expect-result</c>: the guest ends, before the step's timeout, by writing result code <see cref="Code"/>; with
/// <see cref="WholeConsole"/>, its whole console is then exactly what its library guest prints.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Code">The expected result code (0..255).</param>
/// <param name="WholeConsole">When set, the VM's console must equal its guest's expected console (no gap, no repeat).</param>
public sealed record ExpectResultStep(SourceLocation Location, string Vm, int Code, bool WholeConsole = false) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "expect-result";

    /// <inheritdoc />
    public override string Describe() => $"expect {Vm} to exit with {Code}{(WholeConsole ? ", having printed exactly its guest's console" : "")}";
}

/// <summary>The <c>expect-result</c> step: waits for the VM's end and checks it exited with the code (and, if asked, printed its guest's whole console).</summary>
internal sealed class ExpectResultKind() : StepKind<ExpectResultStep>("expect-result")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "code", "whole-console");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var code = f.Int("code", 0, 255, required: true);
        var wholeConsole = f.Bool("whole-console") ?? false;
        return vm is null || code is null ? null : new ExpectResultStep(syntax.At, vm, code.Value, wholeConsole);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectResultStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(ExpectResultStep step, StepCheck check)
    {
        if (step.WholeConsole && check.Vm is { } vm && vm.Guest.Build().ExpectedConsole.Length == 0)
            check.Error(step.Location, $"expect-result: 'whole-console' needs a guest that prints a known console; guest {vm.Guest.Name} of vm '{vm.Name}' prints none");
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectResultStep step, ScenarioRun run, StepContext context)
    {
        var outcome = await run.ExpectEndAsync(step.Vm, context, $"exit with result code {step.Code}",
            end => end.Kind == OutcomeKind.Exited && end.ResultCode == step.Code).ConfigureAwait(false);
        if (!step.WholeConsole) return outcome;
        var vm = run.Vm(step.Vm, step);
        var expected = vm.Declaration.Guest.Build().ExpectedConsole;
        var seen = vm.Observation.Serial;
        if (seen != expected)
        {
            int at = FirstDifference(expected, seen);
            throw new StepFailedException(new StepFailure(
                $"{step.Vm}'s console differs from what guest {vm.Declaration.Guest} prints, first at character {at} of {expected.Length}",
                Around(expected, at), Around(seen, at), step.Vm, vm.Observation.SerialTail()));
        }
        return StepOutcome.Saw($"{outcome.Detail}; console as expected ({expected.Length} characters)");
    }

    private static int FirstDifference(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
            if (a[i] != b[i]) return i;
        return n;
    }

    // The text around character AT, control characters escaped, for a failure that shows where two consoles part.
    private static string Around(string text, int at)
    {
        int start = Math.Max(0, at - 40), end = Math.Min(text.Length, at + 40);
        var part = text[start..end].Replace("\n", "\\n").Replace("\r", "\\r");
        return (start > 0 ? "..." : "") + $"\"{part}\"" + (end < text.Length ? "..." : "") + (at >= text.Length ? " (ends here)" : "");
    }
}
