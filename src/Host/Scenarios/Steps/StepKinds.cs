using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// The table of step kinds: the parser looks keywords up here, the validator and the runner look steps up
/// here. A new step is one file (its record and its <see cref="StepKind{TStep}"/>) and one row below.
/// </summary>
internal static class StepKinds
{
    /// <summary>Every kind, in the order docs/scenarios.md lists the steps.</summary>
    public static IReadOnlyList<IStepKind> All { get; } =
    [
        new LifecycleKind(),
        new SnapshotKind(),
        new RestoreKind(),
        new MigrateKind(),
        new WaitForSerialKind(),
        new ConsoleInputKind(),
        new ExpectStateKind(),
        new ExpectResultKind(),
        new ExpectOutcomeKind(),
        new ExpectMemoryKind(),
        new ExpectAsyncPfKind(),
        new ExpectAsyncPfGuestKind(),
        new ExpectPlacementKind(),
        new InjectFaultKind(),
        new VfioKind(),
        new ExpectVfioKind(),
        new RepeatKind(),
        new ParallelKind(),
        new MeasureKind(),
        new ExpectRejectedKind(),
    ];

    // ToDictionary throws on a keyword or a step record claimed twice, so a bad row fails every scenario test.
    private static readonly IReadOnlyDictionary<string, IStepKind> ByKeyword =
        All.SelectMany(kind => kind.Keywords.Select(keyword => (keyword, kind))).ToDictionary(p => p.keyword, p => p.kind, StringComparer.Ordinal);

    private static readonly IReadOnlyDictionary<Type, IStepKind> ByStepType = All.ToDictionary(kind => kind.StepType);

    /// <summary>Every step keyword, in table order.</summary>
    public static IReadOnlyList<string> Keywords { get; } = [.. All.SelectMany(kind => kind.Keywords)];

    /// <summary>The kind <paramref name="keyword"/> introduces, or null if no step has that keyword.</summary>
    public static IStepKind? Find(string keyword) => ByKeyword.GetValueOrDefault(keyword);

    /// <summary>The kind of <paramref name="step"/>.</summary>
    public static IStepKind Of(Step step) =>
        ByStepType.TryGetValue(step.GetType(), out var kind) ? kind : throw new InvalidOperationException($"step record {step.GetType().Name} has no row in {nameof(StepKinds)}");
}
