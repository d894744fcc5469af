using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>repeat</c>: runs <see cref="Steps"/> <see cref="Times"/> times, stopping at the first failure.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Times">How many times (at least 1).</param>
/// <param name="Steps">The body.</param>
public sealed record RepeatStep(SourceLocation Location, int Times, IReadOnlyList<Step> Steps) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "repeat";

    /// <inheritdoc />
    public override string Describe() => $"repeat {Times}x ({Steps.Count} step{(Steps.Count == 1 ? "" : "s")})";
}

/// <summary>The <c>repeat</c> step: runs its steps a number of times, stopping at the first failure.</summary>
internal sealed class RepeatKind() : StepKind<RepeatStep>("repeat")
{
    /// <inheritdoc />
    public override bool ContainsSteps => true;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("times", "steps");
        if (f is null) return null;
        var times = f.Int("times", 1, 100_000, required: true);
        var steps = f.Sequence("steps", required: true) is { } list ? syntax.ReadSteps(list) : null;
        return times is null || steps is null ? null : new RepeatStep(syntax.At, times.Value, steps);
    }

    /// <inheritdoc />
    protected override IReadOnlyList<Step> ChildrenOf(RepeatStep step) => step.Steps;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(RepeatStep step, ScenarioRun run, StepContext context)
    {
        IReadOnlyList<StepResult> last = [];
        for (int i = 1; i <= step.Times; i++)
        {
            last = await run.RunSequenceAsync(step.Steps, $"{context.Path}#{i}.", context.CancellationToken).ConfigureAwait(false);
            if (last.Any(r => r.Status != StepStatus.Passed)) return new StepOutcome(last, $"failed in iteration {i} of {step.Times}");
        }
        return new StepOutcome(last, $"{step.Times} iterations");
    }
}
