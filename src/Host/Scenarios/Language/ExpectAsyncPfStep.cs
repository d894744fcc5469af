namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>expect-async-pf</c>: the VM's async page-fault counters (summed over its vCPUs) meet every condition, or come
/// to before the step's timeout.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM (it must have lazy memory).</param>
/// <param name="Conditions">One per counter named.</param>
public sealed record ExpectAsyncPfStep(SourceLocation Location, string Vm, IReadOnlyList<CounterCondition> Conditions) : Step(Location)
{
    /// <summary>The counters a step can name, in the order the docs list them.</summary>
    public static IReadOnlyList<string> CounterNames { get; } =
        ["faults", "async", "sync", "joined", "readahead", "failed", "cancelled", "outstanding", "live-workers", "running-fetches", "installs-after-unmap"];

    /// <inheritdoc />
    public override string Keyword => "expect-async-pf";

    /// <inheritdoc />
    public override string Describe() => $"expect async page faults of {Vm}: {string.Join(", ", Conditions)}";
}
