using System.Diagnostics;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>measure</c>: runs <see cref="Steps"/> and records how long they took under <see cref="Name"/>; fails if longer than <see cref="AtMost"/>.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Name">The measurement's name in the summary (samples with the same name are aggregated).</param>
/// <param name="Steps">What is timed.</param>
/// <param name="AtMost">Optional limit on the duration.</param>
public sealed record MeasureStep(SourceLocation Location, string Name, IReadOnlyList<Step> Steps, TimeSpan? AtMost) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "measure";

    /// <inheritdoc />
    public override string Describe() => $"measure {Name}" + (AtMost is { } max ? $" (at most {Durations.Format(max)})" : "");
}

/// <summary>The <c>measure</c> step: runs its steps and records how long they took, failing above <c>at-most</c>.</summary>
internal sealed class MeasureKind() : StepKind<MeasureStep>("measure")
{
    /// <inheritdoc />
    public override bool ContainsSteps => true;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("name", "steps", "at-most");
        if (f is null) return null;
        var name = f.String("name", required: true);
        var atMost = f.Duration("at-most");
        var steps = f.Sequence("steps", required: true) is { } list ? syntax.ReadSteps(list) : null;
        return name is null || steps is null ? null : new MeasureStep(syntax.At, name, steps, atMost);
    }

    /// <inheritdoc />
    protected override IReadOnlyList<Step> ChildrenOf(MeasureStep step) => step.Steps;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(MeasureStep step, ScenarioRun run, StepContext context)
    {
        var clock = Stopwatch.StartNew();
        var children = await run.RunSequenceAsync(step.Steps, $"{context.Path}.", context.CancellationToken).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        if (children.Any(c => c.Status != StepStatus.Passed)) return new StepOutcome(children, null);
        run.RecordMeasurement(step.Name, elapsed);
        var detail = $"{step.Name} = {FormatMs(elapsed)}";
        if (step.AtMost is { } max && elapsed > max)
            throw new StepFailedException(new StepFailure($"{step.Name} took longer than allowed", $"at most {Durations.Format(max)}", FormatMs(elapsed)));
        return new StepOutcome(children, detail);
    }

    private static string FormatMs(TimeSpan t) => $"{t.TotalMilliseconds:0.0} ms";
}
