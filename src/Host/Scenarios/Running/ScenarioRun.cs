using System.Collections.Concurrent;
using System.Diagnostics;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Steps;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>
/// The state of one scenario run: its nodes, the VMs created so far, the measurements. Runs steps in order,
/// each through its kind in <see cref="StepKinds"/>, with its timeout, and turns what they throw into failures.
/// </summary>
internal sealed class ScenarioRun(Scenario scenario, IScenarioObserver observer, CancellationTokenSource scenarioTimeout, CancellationToken userCancellation)
{
    private readonly Dictionary<string, IScenarioNode> _nodes = new();
    private readonly ConcurrentDictionary<string, IScenarioVm> _vms = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<TimeSpan>> _measurements = new();
    private readonly List<string> _measurementOrder = [];
    private readonly ConcurrentDictionary<string, bool> _noted = new();
    // Each snapshot taken so far by name: the node that holds it and the console its VM had printed when it was taken.
    private readonly ConcurrentDictionary<string, (string Node, string Console)> _snapshots = new();

    public static StepResult Skipped(Step step, string path, string why) =>
        new(path, step, StepStatus.Skipped, TimeSpan.Zero, new StepFailure(why));

    public async Task<StepFailure?> StartNodesAsync(INodeFactory factory, CancellationToken cancellationToken)
    {
        try
        {
            var started = await factory.StartAllAsync(scenario.Nodes, cancellationToken).ConfigureAwait(false);
            foreach (var node in started) _nodes[node.Declaration.Name] = node;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var names = string.Join(", ", scenario.Nodes.Select(n => $"'{n.Name}'"));
            return new StepFailure($"the nodes ({names}) did not start: {e.Message}");
        }
        return null;
    }

    /// <summary>Tears every node down; a failure or a hang is returned as the scenario's failure.</summary>
    public async Task<StepFailure?> TearDownAsync(TimeSpan timeout)
    {
        StepFailure? failure = null;
        foreach (var (name, node) in _nodes.Reverse())
        {
            try
            {
                await node.DisposeAsync().AsTask().WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                failure ??= new StepFailure($"tearing node '{name}' down took longer than {Durations.Format(timeout)}");
            }
            catch (Exception e)
            {
                failure ??= new StepFailure($"tearing node '{name}' down failed: {e.Message}");
            }
        }
        _nodes.Clear();
        return failure;
    }

    public IReadOnlyList<Measurement> Measurements()
    {
        lock (_measurementOrder)
            return [.. _measurementOrder.Select(n => new Measurement(n, [.. _measurements[n]]))];
    }

    /// <summary>Runs <paramref name="steps"/> in order; after a failure the rest are skipped.</summary>
    public async Task<IReadOnlyList<StepResult>> RunSequenceAsync(IReadOnlyList<Step> steps, string prefix, CancellationToken cancellationToken)
    {
        var results = new List<StepResult>();
        string? failedAt = null;
        for (int i = 0; i < steps.Count; i++)
        {
            var path = $"{prefix}{i + 1}";
            if (failedAt is not null)
            {
                results.Add(Skipped(steps[i], path, $"not run: step {failedAt} failed"));
                continue;
            }
            var result = await RunStepAsync(steps[i], path, cancellationToken).ConfigureAwait(false);
            results.Add(result);
            if (result.Status != StepStatus.Passed) failedAt = path;
        }
        return results;
    }

    /// <summary>Runs one step with its timeout and reports it to the observer.</summary>
    public async Task<StepResult> RunStepAsync(Step step, string path, CancellationToken cancellationToken)
    {
        observer.StepStarted(scenario, path, step);
        var kind = StepKinds.Of(step);
        var timeout = step.Timeout ?? (kind.ContainsSteps ? (TimeSpan?)null : scenario.StepTimeout);
        using var stepTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t) stepTimeout.CancelAfter(t);
        var context = new StepContext(path, step, timeout, stepTimeout.Token);
        var clock = Stopwatch.StartNew();
        StepResult result;
        try
        {
            var (children, detail) = await kind.RunAsync(step, this, context).ConfigureAwait(false);
            var failedChild = children?.FirstOrDefault(c => c.Status != StepStatus.Passed);
            result = new StepResult(path, step, failedChild is null ? StepStatus.Passed : StepStatus.Failed, clock.Elapsed,
                failedChild is null ? null : new StepFailure($"step {failedChild.Path} failed"), children, detail);
        }
        catch (Exception e)
        {
            result = new StepResult(path, step, StepStatus.Failed, clock.Elapsed, Describe(e, context, cancellationToken));
        }
        if (result.Status == StepStatus.Failed && cancellationToken.IsCancellationRequested && !scenarioTimeout.IsCancellationRequested)
        {
            // Cancelled from outside this step: a sibling branch of a parallel step failed first.
            result = result with { Status = StepStatus.Skipped, Failure = new StepFailure("cancelled: another parallel branch failed") };
        }
        observer.StepFinished(scenario, result);
        return result;
    }

    private StepFailure Describe(Exception e, StepContext context, CancellationToken outer)
    {
        if (userCancellation.IsCancellationRequested) return new StepFailure("cancelled: the run was interrupted");
        if (scenarioTimeout.IsCancellationRequested && e is OperationCanceledException or StepFailedException)
        {
            var inner = e is StepFailedException f ? f.Failure : null;
            return new StepFailure($"the scenario's timeout of {Durations.Format(scenario.Timeout)} expired during this step",
                inner?.Expected, inner?.Seen, inner?.Vm, inner?.SerialTail);
        }
        var vm = StepKinds.Of(context.Step).VmOf(context.Step);
        return e switch
        {
            StepFailedException f => f.Failure,
            OperationCanceledException when !outer.IsCancellationRequested && context.Timeout is { } t =>
                WithSerial(new StepFailure($"timed out after {Durations.Format(t)}"), vm),
            VmRequestRefusedException r => WithSerial(new StepFailure($"refused: {r.Message}"), vm),
            _ => WithSerial(new StepFailure($"{e.GetType().Name}: {e.Message}"), vm),
        };
    }

    /// <summary><paramref name="failure"/> with <paramref name="vm"/>'s serial output, if that VM exists.</summary>
    public StepFailure WithSerial(StepFailure failure, string? vm) =>
        vm is not null && _vms.TryGetValue(vm, out var handle)
            ? failure with { Vm = vm, SerialTail = handle.Observation.SerialTail() }
            : failure;

    /// <summary>The scenario being run.</summary>
    public Scenario Scenario => scenario;

    /// <summary>The VM <paramref name="name"/>, or a failure saying <paramref name="step"/> needs it created first.</summary>
    public IScenarioVm Vm(string name, Step step) =>
        _vms.TryGetValue(name, out var vm)
            ? vm
            : throw new StepFailedException(new StepFailure($"vm '{name}' has not been created yet: add '- create: {name}' before this step ({step.Location})"));

    /// <summary>Creates VM <paramref name="name"/> on its node (again, after a destroy) and notes where it went, once per name.</summary>
    public async Task CreateVmAsync(string name, CancellationToken cancellationToken)
    {
        var declaration = scenario.FindVm(name)!;
        var vm = await _nodes[declaration.Node].CreateVmAsync(declaration, MemoryRangesOf(name), cancellationToken).ConfigureAwait(false);
        _vms[name] = vm;
        // Once per VM name: a create inside a repeat would otherwise repeat it every iteration.
        if (_noted.TryAdd(name, true))
            observer.Note(scenario, $"vm {name}: guest {declaration.Guest} on node {vm.NodeName}, {vm.AcceleratorDescription}");
    }

    /// <summary>Snapshots the VM of <paramref name="step"/> and remembers where the snapshot is and what the VM had printed; returns the step's detail.</summary>
    public async Task<string> SnapshotVmAsync(SnapshotStep step, CancellationToken cancellationToken)
    {
        var vm = Vm(step.Vm, step);
        // Read before the request: the VM is paused (or not started) now, and a resumed one prints on.
        var console = vm.Observation.Serial;
        var detail = await vm.SnapshotAsync(step.To, step.Resume, cancellationToken).ConfigureAwait(false);
        _snapshots[step.To] = (vm.NodeName, console);
        return $"'{step.To}' on node {vm.NodeName}: {detail}";
    }

    /// <summary>Creates the VM of <paramref name="step"/> from its snapshot, on the node that holds it; returns the step's detail.</summary>
    public async Task<string> RestoreVmAsync(RestoreStep step, CancellationToken cancellationToken)
    {
        if (!_snapshots.TryGetValue(step.From, out var snapshot))
            throw new StepFailedException(new StepFailure($"snapshot '{step.From}' has not been taken yet: its snapshot step must run (and pass) before this step ({step.Location})"));
        var declaration = scenario.FindVm(step.Vm)!;
        var vm = await _nodes[declaration.Node].RestoreVmAsync(declaration, step.From, snapshot.Node, step.Mode, snapshot.Console, cancellationToken).ConfigureAwait(false);
        _vms[step.Vm] = vm;
        if (_noted.TryAdd(step.Vm, true))
            observer.Note(scenario, $"vm {step.Vm}: restored from snapshot '{step.From}' on node {vm.NodeName}, {vm.AcceleratorDescription}");
        return $"on node {vm.NodeName}";
    }

    /// <summary>Kills node <paramref name="name"/> (the kill-node fault).</summary>
    public Task KillNodeAsync(string name, CancellationToken cancellationToken) => _nodes[name].KillAsync(cancellationToken);

    /// <summary>Adds one timing of measurement <paramref name="name"/>.</summary>
    public void RecordMeasurement(string name, TimeSpan elapsed)
    {
        lock (_measurementOrder)
        {
            if (!_measurements.ContainsKey(name)) _measurementOrder.Add(name);
            _measurements.GetOrAdd(name, _ => new ConcurrentQueue<TimeSpan>()).Enqueue(elapsed);
        }
    }

    private IReadOnlyList<(ulong Address, ulong Length)> MemoryRangesOf(string vm)
    {
        var ranges = new List<(ulong, ulong)>();
        void Walk(IEnumerable<Step> steps)
        {
            foreach (var step in steps)
            {
                if (step is ExpectMemoryStep m && m.Vm == vm) ranges.Add((m.Address, m.Length));
                Walk(StepKinds.Of(step).ChildrenOf(step));
            }
        }
        Walk(scenario.Steps);
        return [.. ranges.Distinct()];
    }

    /// <summary>Waits for <paramref name="probe"/> on <paramref name="vm"/>; on the step's timeout, fails with <paramref name="onTimeout"/>'s details.</summary>
    public static async Task<T> WaitOrFail<T>(IScenarioVm vm, Func<VmObservation, T?> probe, StepContext context, Func<StepFailure> onTimeout) where T : class
    {
        try
        {
            return await vm.Observation.WaitForAsync(probe, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && context.Timeout is not null)
        {
            throw new StepFailedException(onTimeout());
        }
    }

    /// <summary>Waits for VM <paramref name="name"/>'s end and checks it: <paramref name="expected"/> says what <paramref name="matches"/> accepts.</summary>
    public async Task<StepOutcome> ExpectEndAsync(string name, StepContext context, string expected, Func<VmEnd, bool> matches)
    {
        var vm = Vm(name, context.Step);
        var end = await WaitOrFail(vm, o => o.End, context,
            () => new StepFailure($"{name} did not end within {Durations.Format(context.Timeout!.Value)}", expected,
                $"still {vm.Observation.State.ToString().ToLowerInvariant()}", name, vm.Observation.SerialTail()))
            .ConfigureAwait(false);
        if (!matches(end))
            throw new StepFailedException(new StepFailure($"{name} ended differently than expected", expected, end.ToString(), name, vm.Observation.SerialTail()));
        return StepOutcome.Saw(end.ToString());
    }
}
