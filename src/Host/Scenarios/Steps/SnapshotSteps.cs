using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>What the <c>snapshot</c> and <c>restore</c> steps share: the rule for a snapshot's name, how a snapshot is reported, and the snapshot steps a <c>restore</c> may name.</summary>
internal static class SnapshotSteps
{
    /// <summary>Null if <paramref name="name"/> is a snapshot name the API accepts; else what is wrong with it (to follow "'field' ").</summary>
    public static string? NameProblem(string name) =>
        ApiValidator.SnapshotName("name", name) is { } error ? error.Message["name: ".Length..] : null;

    /// <summary>How a snapshot step reports what it wrote, on either node kind.</summary>
    public static string Detail(ulong memoryBytes, ulong bytesOnDisk, long writeMs) =>
        $"{memoryBytes >> 20} MiB of memory, {bytesOnDisk} bytes on disk, written in {writeMs} ms";

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
