using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary><c>parallel</c>: runs every step at once and waits for all; fails if any fails.</summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Steps">The branches (each one step; use repeat with times 1 or measure to group several).</param>
public sealed record ParallelStep(SourceLocation Location, IReadOnlyList<Step> Steps) : Step(Location)
{
    /// <inheritdoc />
    public override string Keyword => "parallel";

    /// <inheritdoc />
    public override string Describe() => $"parallel ({Steps.Count} branches)";
}

/// <summary>The <c>parallel</c> step: runs its steps at once; the first failure cancels the others.</summary>
internal sealed class ParallelKind() : StepKind<ParallelStep>("parallel")
{
    /// <inheritdoc />
    public override bool ContainsSteps => true;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        YamlSequenceNode? list;
        if (syntax.Value is YamlSequenceNode seq)
        {
            list = seq;
        }
        else
        {
            var f = syntax.Fields("steps");
            if (f is null) return null;
            list = f.Sequence("steps", required: true);
        }
        if (list is null) return null;
        var steps = syntax.ReadSteps(list);
        if (list.Children.Count == 1) syntax.Context.Error(list, "parallel: a single branch runs nothing in parallel; give at least two steps");
        return new ParallelStep(syntax.At, steps);
    }

    /// <inheritdoc />
    protected override IReadOnlyList<Step> ChildrenOf(ParallelStep step) => step.Steps;

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ParallelStep step, ScenarioRun run, StepContext context)
    {
        using var branches = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var tasks = step.Steps.Select(async (branch, i) =>
        {
            await Task.Yield(); // start every branch before any runs far
            var result = await run.RunStepAsync(branch, $"{context.Path}.{i + 1}", branches.Token).ConfigureAwait(false);
            if (result.Status == StepStatus.Failed) await branches.CancelAsync().ConfigureAwait(false);
            return result;
        }).ToList();
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        return new StepOutcome(results, null);
    }
}
