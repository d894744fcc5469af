using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// One kind of scenario step, described once: the keywords that introduce it, how it is read from YAML, what
/// the whole-scenario validation checks about it and how it runs. Every kind is one row of <see cref="StepKinds"/>;
/// implement it through <see cref="StepKind{TStep}"/>.
/// </summary>
internal interface IStepKind
{
    /// <summary>The YAML keywords of this kind (lifecycle has six, the VFIO requests two), in the order the docs list them.</summary>
    IReadOnlyList<string> Keywords { get; }

    /// <summary>The <see cref="Step"/> record this kind reads and runs.</summary>
    Type StepType { get; }

    /// <summary>True for steps made of other steps (repeat, parallel, measure): they have no timeout unless given one.</summary>
    bool ContainsSteps { get; }

    /// <summary>False when a VM on a cluster node cannot take this step (the remote API has no request for it).</summary>
    bool RunsOnCluster { get; }

    /// <summary>Reads the step written with one of <see cref="Keywords"/>; null after reporting errors to the syntax's context.</summary>
    Step? Parse(StepSyntax syntax);

    /// <summary>The one VM the step acts on, if it names one: checked to be declared, and whose serial output its failures show.</summary>
    string? VmOf(Step step);

    /// <summary>The steps inside <paramref name="step"/> (none unless <see cref="ContainsSteps"/>).</summary>
    IReadOnlyList<Step> ChildrenOf(Step step);

    /// <summary>The checks that need the whole scenario, once its VM (if any) is known to exist.</summary>
    void Validate(Step step, StepCheck check);

    /// <summary>Runs the step; throws <see cref="StepFailedException"/> when it fails.</summary>
    Task<StepOutcome> RunAsync(Step step, ScenarioRun run, StepContext context);
}
