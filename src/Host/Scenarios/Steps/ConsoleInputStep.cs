using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>console-input</c>: types <see cref="Text"/> on the VM's serial console (its UART receives it as UTF-8).</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Text">What to send (YAML escapes such as "\n" give control characters).</param>
public sealed record ConsoleInputStep(SourceLocation Location, string Vm, string Text) : Step(Location)
{
    /// <summary>The most one step may send: what the API accepts in one request.</summary>
    public const int MaxBytes = Api.V1.ApiValidator.MaxConsoleInputBytes;

    /// <inheritdoc />
    public override string Keyword => "console-input";

    /// <inheritdoc />
    public override string Describe() => $"type \"{Text.Replace("\n", "\\n").Replace("\r", "\\r")}\" on {Vm}'s console";
}

/// <summary>The <c>console-input</c> step: sends text to a VM's console and checks its UART took all of it.</summary>
internal sealed class ConsoleInputKind() : StepKind<ConsoleInputStep>("console-input")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "text");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var text = f.String("text", required: true);
        if (text is { Length: 0 })
        {
            f.Error("text", "must not be empty");
            return null;
        }
        if (text is not null && System.Text.Encoding.UTF8.GetByteCount(text) > ConsoleInputStep.MaxBytes)
        {
            f.Error("text", $"is longer than {ConsoleInputStep.MaxBytes} bytes (UTF-8); split it over several console-input steps");
            return null;
        }
        return vm is null || text is null ? null : new ConsoleInputStep(syntax.At, vm, text);
    }

    /// <inheritdoc />
    protected override string? VmOf(ConsoleInputStep step) => step.Vm;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ConsoleInputStep step, ScenarioRun run, StepContext context)
    {
        int sent = System.Text.Encoding.UTF8.GetByteCount(step.Text);
        int accepted = await run.Vm(step.Vm, step).SendConsoleInputAsync(step.Text, context.CancellationToken).ConfigureAwait(false);
        if (accepted < sent)
            throw new StepFailedException(new StepFailure($"{step.Vm}'s UART queued {accepted} of the {sent} bytes sent (its receive queue is full or it has no UART)",
                $"{sent} bytes queued", $"{accepted} bytes queued", step.Vm, run.Vm(step.Vm, step).Observation.SerialTail()));
        return StepOutcome.Saw($"{accepted} bytes queued");
    }
}
