using System.Diagnostics;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>
/// Runs scenarios: starts the declared nodes, runs the steps in order (stopping at the first failure and
/// marking the rest skipped), enforces the step and scenario timeouts, and finally tears every node down
/// with whatever VMs are left on it.
/// </summary>
public sealed class ScenarioRunner(INodeFactory nodes, ScenarioRunOptions? options = null)
{
    private readonly ScenarioRunOptions _options = options ?? new ScenarioRunOptions();

    /// <summary>Runs <paramref name="scenario"/>, reporting progress to <paramref name="observer"/>.</summary>
    public async Task<ScenarioResult> RunAsync(Scenario scenario, IScenarioObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        observer ??= NullScenarioObserver.Instance;
        if (_options.AcceleratorOverride is { } accelerator)
            scenario = scenario with { Vms = [.. scenario.Vms.Select(v => v with { Accelerator = accelerator })] };

        var clock = Stopwatch.StartNew();
        observer.ScenarioStarted(scenario);
        using var scenarioTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        scenarioTimeout.CancelAfter(scenario.Timeout);
        var run = new ScenarioRun(scenario, observer, scenarioTimeout, cancellationToken);
        IReadOnlyList<StepResult> steps = [];
        StepFailure? failure = null;
        try
        {
            failure = await run.StartNodesAsync(nodes, scenarioTimeout.Token).ConfigureAwait(false);
            steps = failure is null
                ? await run.RunSequenceAsync(scenario.Steps, "", scenarioTimeout.Token).ConfigureAwait(false)
                : [.. scenario.Steps.Select((s, i) => ScenarioRun.Skipped(s, $"{i + 1}", "not run: the nodes did not start"))];
        }
        finally
        {
            var teardown = await run.TearDownAsync(_options.TeardownTimeout).ConfigureAwait(false);
            failure ??= teardown;
        }
        var result = new ScenarioResult(scenario, steps, run.Measurements(), clock.Elapsed, failure);
        observer.ScenarioFinished(result);
        return result;
    }
}
