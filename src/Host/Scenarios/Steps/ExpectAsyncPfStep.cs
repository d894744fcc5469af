using System.Text.RegularExpressions;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The <c>expect-async-pf</c> step: polls the VM's async page-fault counters until every condition holds.</summary>
internal sealed class ExpectAsyncPfKind() : StepKind<ExpectAsyncPfStep>("expect-async-pf")
{
    /// <inheritdoc />
    public override bool RunsOnCluster => false;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields(["vm", .. ExpectAsyncPfStep.CounterNames]);
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var conditions = new List<CounterCondition>();
        bool ok = true;
        foreach (var counter in ExpectAsyncPfStep.CounterNames)
        {
            if (!f.Has(counter)) continue;
            if (ReadCondition(f, counter) is { } condition) conditions.Add(condition);
            else ok = false;
        }
        if (conditions.Count == 0 && ok)
        {
            syntax.Error($"expect-async-pf: name at least one counter ({string.Join(", ", ExpectAsyncPfStep.CounterNames)}) with a value such as 0 or \">= 1\"");
            return null;
        }
        return vm is null || !ok ? null : new ExpectAsyncPfStep(syntax.At, vm, conditions);
    }

    // 3, "= 3", ">= 1", "<= 10", "> 0", "< 5": a comparison and a non-negative integer.
    internal static CounterCondition? ReadCondition(Fields f, string counter)
    {
        var text = f.String(counter);
        if (text is null) return null;
        var m = Regex.Match(text.Trim(), @"^(>=|<=|==|=|>|<)?\s*([0-9][0-9_]*)$");
        if (!m.Success || !long.TryParse(m.Groups[2].Value.Replace("_", ""), out var value))
        {
            f.Error(counter, $"must be a count, optionally after >=, <=, > or < (e.g. 0 or \">= 1\"), got '{text}'");
            return null;
        }
        var comparison = m.Groups[1].Value is "" or "=" ? "==" : m.Groups[1].Value;
        return new CounterCondition(counter, comparison, value);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectAsyncPfStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(ExpectAsyncPfStep step, StepCheck check)
    {
        if (check.Vm is { LazyMemory: null } vm)
            check.Error(step.Location, $"expect-async-pf: vm '{vm.Name}' has no lazy memory, so it takes no async page faults; give it 'lazy-memory'");
    }

    // The counters have no events: they are read every 20 ms until every condition holds or the step's time is up.
    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectAsyncPfStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        IReadOnlyDictionary<string, long> counters;
        string Seen(IReadOnlyDictionary<string, long> c) => string.Join(", ", step.Conditions.Select(k => $"{k.Counter} = {c[k.Counter]}"));
        while (true)
        {
            counters = await vm.AsyncPfCountersAsync(context.CancellationToken).ConfigureAwait(false);
            if (step.Conditions.All(k => k.Holds(counters[k.Counter]))) return StepOutcome.Saw(Seen(counters));
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), context.CancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && context.Timeout is { } t)
            {
                var failing = step.Conditions.Where(k => !k.Holds(counters[k.Counter])).ToList();
                throw new StepFailedException(run.WithSerial(new StepFailure(
                    $"{step.Vm}'s async page-fault counters did not meet {string.Join(", ", failing)} within {Durations.Format(t)}",
                    string.Join(", ", step.Conditions), Seen(counters)), step.Vm));
            }
        }
    }
}
