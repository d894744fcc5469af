using System.Text.RegularExpressions;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// <c>wait-for-serial</c>: waits until the VM's serial output, after what earlier waits on the same VM
/// consumed, contains <see cref="Text"/> or matches <see cref="Pattern"/>.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Text">Literal text to find (exactly one of Text and Pattern is set).</param>
/// <param name="Pattern">A .NET regular expression to match.</param>
public sealed record WaitForSerialStep(SourceLocation Location, string Vm, string? Text, Regex? Pattern) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "wait-for-serial";

    /// <inheritdoc />
    public override string Describe() => Text is not null
        ? $"wait for \"{Escape(Text)}\" on {Vm}'s serial"
        : $"wait for /{Pattern}/ on {Vm}'s serial";

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\r", "\\r");
}

/// <summary>The <c>wait-for-serial</c> step: waits for text or a regex match in a VM's serial output after the previous match.</summary>
internal sealed class WaitForSerialKind() : StepKind<WaitForSerialStep>("wait-for-serial")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "text", "regex");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var text = f.String("text");
        var pattern = f.String("regex");
        if (text is null == pattern is null)
        {
            if (!f.Has("text") && !f.Has("regex")) syntax.Error("wait-for-serial: missing 'text' or 'regex' (what to wait for)");
            else if (text is not null) f.Error("regex", "cannot be given together with 'text'; use one of them");
            return null;
        }
        if (text is { Length: 0 })
        {
            f.Error("text", "must not be empty");
            return null;
        }
        Regex? regex = null;
        if (pattern is not null)
        {
            try
            {
                regex = new Regex(pattern, RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                f.Error("regex", $"is not a valid regular expression: {e.Message}");
                return null;
            }
        }
        return vm is null ? null : new WaitForSerialStep(syntax.At, vm, text, regex);
    }

    /// <inheritdoc />
    protected override string? VmOf(WaitForSerialStep step) => step.Vm;

    private sealed record SerialProgress(int? MatchEnd, VmEnd? EndedFirst);

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(WaitForSerialStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        var observation = vm.Observation;
        int from = observation.SerialCursor;
        string what = step.Text is not null ? $"\"{Printable(step.Text)}\"" : $"a match of /{step.Pattern}/";
        SerialProgress Probe(VmObservation o)
        {
            var end = o.End; // read before the text: once the end is reported, all output has been delivered
            var serial = o.Serial;
            int? matchEnd = null;
            if (step.Text is not null)
            {
                int at = serial.IndexOf(step.Text, Math.Min(from, serial.Length), StringComparison.Ordinal);
                if (at >= 0) matchEnd = at + step.Text.Length;
            }
            else
            {
                var m = step.Pattern!.Match(serial, Math.Min(from, serial.Length));
                if (m.Success) matchEnd = m.Index + m.Length;
            }
            return new SerialProgress(matchEnd, matchEnd is null ? end : null);
        }
        var progress = await ScenarioRun.WaitOrFail(vm, o => Probe(o) is { } p && (p.MatchEnd is not null || p.EndedFirst is not null) ? p : null, context,
            () => new StepFailure($"{what} did not appear on {step.Vm}'s serial output within {Durations.Format(context.Timeout!.Value)}",
                what + (from > 0 ? $" after character {from}" : ""), $"{observation.Serial.Length - from} new characters, none matching; the vm is {observation.State.ToString().ToLowerInvariant()}",
                step.Vm, observation.SerialTail()))
            .ConfigureAwait(false);
        if (progress.MatchEnd is { } matchEnd)
        {
            observation.SerialCursor = matchEnd;
            return StepOutcome.Passed;
        }
        throw new StepFailedException(new StepFailure($"{step.Vm} ended without printing {what}", what, $"the vm {progress.EndedFirst}",
            step.Vm, observation.SerialTail()));
    }

    private static string Printable(string s) => s.Replace("\n", "\\n").Replace("\r", "\\r");
}
