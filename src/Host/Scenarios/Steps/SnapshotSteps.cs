using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>What the <c>snapshot</c> and <c>restore</c> steps share: the rule for a snapshot's name, and the snapshot steps a <c>restore</c> may name.</summary>
internal static class SnapshotSteps
{
    /// <summary>Null if <paramref name="name"/> is a snapshot name the API accepts; else what is wrong with it (to follow "'field' ").</summary>
    public static string? NameProblem(string name) =>
        ApiValidator.SnapshotName("name", name) is { } error ? error.Message["name: ".Length..] : null;

    /// <summary>Every snapshot step in <paramref name="steps"/> and the steps inside them, in file order.</summary>
    public static IEnumerable<SnapshotStep> All(IEnumerable<Step> steps)
    {
        foreach (var step in steps)
        {
            if (step is SnapshotStep snapshot) yield return snapshot;
            foreach (var inner in All(StepKinds.Of(step).ChildrenOf(step))) yield return inner;
        }
    }
}
