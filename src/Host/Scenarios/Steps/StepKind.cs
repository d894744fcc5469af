using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>An <see cref="IStepKind"/> for the step record <typeparamref name="TStep"/>: the typed form every kind derives from.</summary>
/// <param name="keywords">The YAML keywords of the kind.</param>
internal abstract class StepKind<TStep>(params string[] keywords) : IStepKind where TStep : Step
{
    /// <inheritdoc />
    public IReadOnlyList<string> Keywords { get; } = keywords;

    /// <inheritdoc />
    public Type StepType => typeof(TStep);

    /// <inheritdoc />
    public virtual bool ContainsSteps => false;

    /// <inheritdoc />
    public virtual bool RunsOnCluster => true;

    /// <inheritdoc />
    public abstract Step? Parse(StepSyntax syntax);

    string? IStepKind.VmOf(Step step) => VmOf((TStep)step);

    IReadOnlyList<Step> IStepKind.ChildrenOf(Step step) => ChildrenOf((TStep)step);

    void IStepKind.Validate(Step step, StepCheck check) => Validate((TStep)step, check);

    Task<StepOutcome> IStepKind.RunAsync(Step step, ScenarioRun run, StepContext context) => RunAsync((TStep)step, run, context);

    /// <summary>The VM the step acts on; none by default.</summary>
    protected virtual string? VmOf(TStep step) => null;

    /// <summary>The steps inside the step; none by default.</summary>
    protected virtual IReadOnlyList<Step> ChildrenOf(TStep step) => [];

    /// <summary>Whole-scenario checks; none by default.</summary>
    protected virtual void Validate(TStep step, StepCheck check) { }

    /// <summary>Runs the step.</summary>
    protected abstract Task<StepOutcome> RunAsync(TStep step, ScenarioRun run, StepContext context);
}
