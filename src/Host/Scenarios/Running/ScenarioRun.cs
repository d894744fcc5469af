using System.Collections.Concurrent;
using System.Diagnostics;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>The state of one scenario run: its nodes, the VMs created so far, the measurements; and how each step kind runs.</summary>
internal sealed class ScenarioRun(Scenario scenario, IScenarioObserver observer, CancellationTokenSource scenarioTimeout, CancellationToken userCancellation)
{
    private readonly Dictionary<string, IScenarioNode> _nodes = new();
    private readonly ConcurrentDictionary<string, IScenarioVm> _vms = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<TimeSpan>> _measurements = new();
    private readonly List<string> _measurementOrder = [];
    private readonly ConcurrentDictionary<string, bool> _noted = new();

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

    private async Task<StepResult> RunStepAsync(Step step, string path, CancellationToken cancellationToken)
    {
        observer.StepStarted(scenario, path, step);
        bool container = step is RepeatStep or ParallelStep or MeasureStep;
        var timeout = step.Timeout ?? (container ? (TimeSpan?)null : scenario.StepTimeout);
        using var stepTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t) stepTimeout.CancelAfter(t);
        var context = new StepContext(path, step, timeout, stepTimeout.Token);
        var clock = Stopwatch.StartNew();
        StepResult result;
        try
        {
            var (children, detail) = await ExecuteAsync(step, context).ConfigureAwait(false);
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
        return e switch
        {
            StepFailedException f => f.Failure,
            OperationCanceledException when !outer.IsCancellationRequested && context.Timeout is { } t =>
                WithSerial(new StepFailure($"timed out after {Durations.Format(t)}"), VmOf(context.Step)),
            VmRequestRefusedException r => WithSerial(new StepFailure($"refused: {r.Message}"), VmOf(context.Step)),
            _ => WithSerial(new StepFailure($"{e.GetType().Name}: {e.Message}"), VmOf(context.Step)),
        };
    }

    private static string? VmOf(Step step) => step switch
    {
        LifecycleStep s => s.Vm,
        InjectFaultStep s => s.Vm,
        ExpectMemoryStep s => s.Vm,
        ExpectAsyncPfStep s => s.Vm,
        VfioStep s => s.Vm,
        ExpectVfioStep s => s.Vm,
        _ => null,
    };

    private StepFailure WithSerial(StepFailure failure, string? vm) =>
        vm is not null && _vms.TryGetValue(vm, out var handle)
            ? failure with { Vm = vm, SerialTail = handle.Observation.SerialTail() }
            : failure;

    private Task<(IReadOnlyList<StepResult>? Children, string? Detail)> ExecuteAsync(Step step, StepContext context) => step switch
    {
        LifecycleStep s => Lifecycle(s, context),
        WaitForSerialStep s => WaitForSerial(s, context),
        ExpectStateStep s => ExpectState(s, context),
        ExpectResultStep s => ExpectEnd(s.Vm, context, $"exit with result code {s.Code}",
            end => end.Kind == OutcomeKind.Exited && end.ResultCode == s.Code),
        ExpectOutcomeStep s => ExpectEnd(s.Vm, context,
            s.Outcome.ToString().ToLowerInvariant() + (s.ReasonContains is null ? "" : $" with a reason containing \"{s.ReasonContains}\""),
            end => end.Kind == s.Outcome && (s.ReasonContains is null || (end.Reason ?? "").Contains(s.ReasonContains, StringComparison.OrdinalIgnoreCase))),
        ExpectMemoryStep s => ExpectMemory(s, context),
        ExpectAsyncPfStep s => ExpectAsyncPf(s, context),
        ExpectPlacementStep s => ExpectPlacement(s),
        InjectFaultStep s => Inject(s, context),
        VfioStep s => Vfio(s, context),
        ExpectVfioStep s => ExpectVfio(s, context),
        RepeatStep s => Repeat(s, context),
        ParallelStep s => Parallel(s, context),
        MeasureStep s => Measure(s, context),
        ExpectRejectedStep s => ExpectRejected(s),
        _ => throw new NotSupportedException($"step kind {step.GetType().Name} has no runner"),
    };

    private IScenarioVm Vm(string name, Step step) =>
        _vms.TryGetValue(name, out var vm)
            ? vm
            : throw new StepFailedException(new StepFailure($"vm '{name}' has not been created yet: add '- create: {name}' before this step ({step.Location})"));

    private async Task<(IReadOnlyList<StepResult>?, string?)> Lifecycle(LifecycleStep step, StepContext context)
    {
        var token = context.CancellationToken;
        try
        {
            switch (step.Action)
            {
                case LifecycleAction.Create:
                    var declaration = scenario.FindVm(step.Vm)!;
                    var vm = await _nodes[declaration.Node].CreateVmAsync(declaration, MemoryRangesOf(step.Vm), token).ConfigureAwait(false);
                    _vms[step.Vm] = vm;
                    // Once per VM name: a create inside a repeat would otherwise repeat it every iteration.
                    if (_noted.TryAdd(step.Vm, true))
                        observer.Note(scenario, $"vm {step.Vm}: guest {declaration.Guest} on node {vm.NodeName}, {vm.AcceleratorDescription}");
                    break;
                case LifecycleAction.Start: await Vm(step.Vm, step).StartAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Pause: await Vm(step.Vm, step).PauseAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Resume: await Vm(step.Vm, step).ResumeAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Stop: await Vm(step.Vm, step).StopAsync(token).ConfigureAwait(false); break;
                case LifecycleAction.Destroy: await Vm(step.Vm, step).DestroyAsync(token).ConfigureAwait(false); break;
            }
        }
        catch (VmRequestRefusedException refused) when (step.ExpectError is not null)
        {
            if (refused.Message.Contains(step.ExpectError, StringComparison.OrdinalIgnoreCase)) return (null, $"refused as expected: {refused.Message}");
            throw new StepFailedException(WithSerial(new StepFailure($"{step.Keyword} {step.Vm} was refused for another reason",
                $"a refusal containing \"{step.ExpectError}\"", refused.Message), step.Vm));
        }
        if (step.ExpectError is not null)
            throw new StepFailedException(WithSerial(new StepFailure($"{step.Keyword} {step.Vm} was accepted, but the scenario expects it to be refused",
                $"a refusal containing \"{step.ExpectError}\"", "the request succeeded"), step.Vm));
        return (null, null);
    }

    private IReadOnlyList<(ulong Address, ulong Length)> MemoryRangesOf(string vm)
    {
        var ranges = new List<(ulong, ulong)>();
        void Walk(IEnumerable<Step> steps)
        {
            foreach (var step in steps)
            {
                switch (step)
                {
                    case ExpectMemoryStep m when m.Vm == vm: ranges.Add((m.Address, m.Length)); break;
                    case RepeatStep r: Walk(r.Steps); break;
                    case ParallelStep p: Walk(p.Steps); break;
                    case MeasureStep m: Walk(m.Steps); break;
                }
            }
        }
        Walk(scenario.Steps);
        return [.. ranges.Distinct()];
    }

    private sealed record SerialProgress(int? MatchEnd, VmEnd? EndedFirst);

    private async Task<(IReadOnlyList<StepResult>?, string?)> WaitForSerial(WaitForSerialStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        var observation = vm.Observation;
        int from = observation.SerialCursor;
        string what = step.Text is not null ? $"\"{Printable(step.Text)}\"" : $"a match of /{step.Pattern}/";
        SerialProgress Probe(VmObservation o)
        {
            var end = o.End; // read before the text: once the end is reported, all output has been delivered
            var serial = o.Serial;
            int? matchEnd = null;
            if (step.Text is not null)
            {
                int at = serial.IndexOf(step.Text, Math.Min(from, serial.Length), StringComparison.Ordinal);
                if (at >= 0) matchEnd = at + step.Text.Length;
            }
            else
            {
                var m = step.Pattern!.Match(serial, Math.Min(from, serial.Length));
                if (m.Success) matchEnd = m.Index + m.Length;
            }
            return new SerialProgress(matchEnd, matchEnd is null ? end : null);
        }
        var progress = await WaitOrFail(vm, o => Probe(o) is { } p && (p.MatchEnd is not null || p.EndedFirst is not null) ? p : null, context,
            () => new StepFailure($"{what} did not appear on {step.Vm}'s serial output within {Durations.Format(context.Timeout!.Value)}",
                what + (from > 0 ? $" after character {from}" : ""), $"{observation.Serial.Length - from} new characters, none matching; the vm is {observation.State.ToString().ToLowerInvariant()}",
                step.Vm, observation.SerialTail()))
            .ConfigureAwait(false);
        if (progress.MatchEnd is { } matchEnd)
        {
            observation.SerialCursor = matchEnd;
            return (null, null);
        }
        throw new StepFailedException(new StepFailure($"{step.Vm} ended without printing {what}", what, $"the vm {progress.EndedFirst}",
            step.Vm, observation.SerialTail()));
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> ExpectState(ExpectStateStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        string expected = step.State.ToString().ToLowerInvariant();
        // Settled: the expected state, or one the VM can no longer leave for it. A stopped or failed VM settles
        // once its end has arrived too (the last event), so the failure can say how it ended; it can still be
        // destroyed, so it does not settle a wait for destroyed.
        var seen = await WaitOrFail(vm, o =>
            {
                var s = o.State;
                bool settled = s == step.State || s switch
                {
                    VmStateName.Stopped or VmStateName.Failed => o.End is not null && step.State != VmStateName.Destroyed,
                    VmStateName.Destroyed or VmStateName.Lost => true,
                    _ => false,
                };
                return settled ? (object)s : null;
            }, context,
            () => new StepFailure($"{step.Vm} did not become {expected} within {Durations.Format(context.Timeout!.Value)}", expected,
                vm.Observation.State.ToString().ToLowerInvariant(), step.Vm, vm.Observation.SerialTail()))
            .ConfigureAwait(false);
        var state = (VmStateName)seen;
        if (state != step.State)
        {
            var end = vm.Observation.End is { } e ? $" ({e})" : "";
            throw new StepFailedException(new StepFailure($"{step.Vm} is {state.ToString().ToLowerInvariant()}{end}, not {expected}", expected,
                state.ToString().ToLowerInvariant() + end, step.Vm, vm.Observation.SerialTail()));
        }
        return (null, null);
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> ExpectEnd(string name, StepContext context, string expected, Func<VmEnd, bool> matches)
    {
        var vm = Vm(name, context.Step);
        var end = await WaitOrFail(vm, o => o.End, context,
            () => new StepFailure($"{name} did not end within {Durations.Format(context.Timeout!.Value)}", expected,
                $"still {vm.Observation.State.ToString().ToLowerInvariant()}", name, vm.Observation.SerialTail()))
            .ConfigureAwait(false);
        if (!matches(end))
            throw new StepFailedException(new StepFailure($"{name} ended differently than expected", expected, end.ToString(), name, vm.Observation.SerialTail()));
        return (null, end.ToString());
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> ExpectMemory(ExpectMemoryStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        var bytes = await vm.ReadMemoryAsync(step.Address, step.Length, context.CancellationToken).ConfigureAwait(false);
        var actual = Checksums.Compute(step.Algorithm, bytes);
        if (actual != step.Expected)
            throw new StepFailedException(new StepFailure(
                $"{step.Algorithm.ToString().ToLowerInvariant()} of {step.Vm}'s RAM [0x{step.Address:x}, 0x{step.Address + step.Length:x}) differs",
                step.Expected, actual, step.Vm, vm.Observation.SerialTail()));
        return (null, $"{step.Algorithm.ToString().ToLowerInvariant()} {actual}");
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> Inject(InjectFaultStep step, StepContext context)
    {
        if (step.Fault == FaultKind.KillNode)
        {
            await _nodes[step.Node!].KillAsync(context.CancellationToken).ConfigureAwait(false);
            return (null, $"node {step.Node} killed");
        }
        await Vm(step.Vm!, step).InjectFaultAsync(step, context.CancellationToken).ConfigureAwait(false);
        return (null, null);
    }

    private Task<(IReadOnlyList<StepResult>?, string?)> ExpectPlacement(ExpectPlacementStep step)
    {
        var placed = step.Vms.Select(n => (Vm: n, Node: Vm(n, step).NodeName)).ToList();
        var seen = string.Join(", ", placed.Select(p => $"{p.Vm} on {p.Node}"));
        if (step.Node is { } node && placed.FirstOrDefault(p => p.Node != node) is { Vm: not null } away)
            throw new StepFailedException(new StepFailure($"{away.Vm} is on node {away.Node}, not {node}", $"on node {node}", seen));
        if (step.Distinct && placed.GroupBy(p => p.Node).FirstOrDefault(g => g.Count() > 1) is { } shared)
            throw new StepFailedException(new StepFailure($"{string.Join(" and ", shared.Select(p => p.Vm))} share node {shared.Key}", "each on a different node", seen));
        return Task.FromResult<(IReadOnlyList<StepResult>?, string?)>((null, seen));
    }

    // The counters have no events: they are read every 20 ms until every condition holds or the step's time is up.
    private async Task<(IReadOnlyList<StepResult>?, string?)> ExpectAsyncPf(ExpectAsyncPfStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        IReadOnlyDictionary<string, long> counters;
        string Seen(IReadOnlyDictionary<string, long> c) => string.Join(", ", step.Conditions.Select(k => $"{k.Counter} = {c[k.Counter]}"));
        while (true)
        {
            counters = await vm.AsyncPfCountersAsync(context.CancellationToken).ConfigureAwait(false);
            if (step.Conditions.All(k => k.Holds(counters[k.Counter]))) return (null, Seen(counters));
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), context.CancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && context.Timeout is { } t)
            {
                var failing = step.Conditions.Where(k => !k.Holds(counters[k.Counter])).ToList();
                throw new StepFailedException(WithSerial(new StepFailure(
                    $"{step.Vm}'s async page-fault counters did not meet {string.Join(", ", failing)} within {Durations.Format(t)}",
                    string.Join(", ", step.Conditions), Seen(counters)), step.Vm));
            }
        }
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> Vfio(VfioStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        string done;
        try
        {
            if (step.Action == VfioAction.Attach)
            {
                var (file, nonCoherent) = await vm.AttachVfioAsync(step.Path, context.CancellationToken).ConfigureAwait(false);
                done = $"attached: {file.Description}, {(file.EnforcedCoherent ? "coherent" : "non-coherent")} DMA; the VM's non-coherent DMA: {YesNo(nonCoherent)}";
            }
            else
            {
                var nonCoherent = await vm.DetachVfioAsync(step.Path, context.CancellationToken).ConfigureAwait(false);
                done = $"detached; the VM's non-coherent DMA: {YesNo(nonCoherent)}";
            }
        }
        catch (VmRequestRefusedException refused) when (step.ExpectError is { } expected)
        {
            var seen = $"{refused.Kind ?? "refused"}: {refused.Message}";
            if (expected.Matches(refused.Kind, refused.Message)) return (null, $"refused as expected: {seen}");
            throw new StepFailedException(WithSerial(new StepFailure($"{step.Keyword} {step.Path} was refused another way", expected.ToString(), seen), step.Vm));
        }
        if (step.ExpectError is { } expectedRefusal)
            throw new StepFailedException(WithSerial(new StepFailure($"{step.Keyword} {step.Path} was accepted, but the scenario expects it to be refused",
                expectedRefusal.ToString(), done), step.Vm));
        return (null, done);
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> ExpectVfio(ExpectVfioStep step, StepContext context)
    {
        var vm = Vm(step.Vm, step);
        var state = await vm.ListVfioAsync(context.CancellationToken).ConfigureAwait(false);
        var names = state.Files.Select(f => f.Name).ToList();
        var seen = $"{ExpectVfioStep.Format(names)}; non-coherent DMA: {YesNo(state.NonCoherentDma)}";
        bool filesMatch = step.Files is null || (step.Files.Count == names.Count && step.Files.ToHashSet(StringComparer.Ordinal).SetEquals(names));
        bool flagMatches = step.NonCoherentDma is null || step.NonCoherentDma == state.NonCoherentDma;
        if (!filesMatch || !flagMatches)
            throw new StepFailedException(WithSerial(new StepFailure(
                !filesMatch ? $"{step.Vm} has other VFIO files attached than expected" : $"{step.Vm}'s non-coherent DMA state differs",
                step.Expected, seen), step.Vm));
        return (null, seen);
    }

    private static string YesNo(bool value) => value ? "yes" : "no";

    private async Task<(IReadOnlyList<StepResult>?, string?)> Repeat(RepeatStep step, StepContext context)
    {
        IReadOnlyList<StepResult> last = [];
        for (int i = 1; i <= step.Times; i++)
        {
            last = await RunSequenceAsync(step.Steps, $"{context.Path}#{i}.", context.CancellationToken).ConfigureAwait(false);
            if (last.Any(r => r.Status != StepStatus.Passed)) return (last, $"failed in iteration {i} of {step.Times}");
        }
        return (last, $"{step.Times} iterations");
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> Parallel(ParallelStep step, StepContext context)
    {
        using var branches = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var tasks = step.Steps.Select(async (branch, i) =>
        {
            await Task.Yield(); // start every branch before any runs far
            var result = await RunStepAsync(branch, $"{context.Path}.{i + 1}", branches.Token).ConfigureAwait(false);
            if (result.Status == StepStatus.Failed) await branches.CancelAsync().ConfigureAwait(false);
            return result;
        }).ToList();
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        return (results, null);
    }

    private async Task<(IReadOnlyList<StepResult>?, string?)> Measure(MeasureStep step, StepContext context)
    {
        var clock = Stopwatch.StartNew();
        var children = await RunSequenceAsync(step.Steps, $"{context.Path}.", context.CancellationToken).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        if (children.Any(c => c.Status != StepStatus.Passed)) return (children, null);
        lock (_measurementOrder)
        {
            if (!_measurements.ContainsKey(step.Name)) _measurementOrder.Add(step.Name);
            _measurements.GetOrAdd(step.Name, _ => new ConcurrentQueue<TimeSpan>()).Enqueue(elapsed);
        }
        var detail = $"{step.Name} = {FormatMs(elapsed)}";
        if (step.AtMost is { } max && elapsed > max)
            throw new StepFailedException(new StepFailure($"{step.Name} took longer than allowed", $"at most {Durations.Format(max)}", FormatMs(elapsed)));
        return (children, detail);
    }

    private Task<(IReadOnlyList<StepResult>?, string?)> ExpectRejected(ExpectRejectedStep step)
    {
        var path = Path.Combine(scenario.Folder, step.File);
        IReadOnlyList<ScenarioError> errors;
        try
        {
            ScenarioParser.ParseFile(path);
            throw new StepFailedException(new StepFailure($"{step.File} was accepted, but the scenario expects it to be rejected",
                $"an error containing \"{step.ErrorContains}\"", "no errors"));
        }
        catch (ScenarioParseException e)
        {
            errors = e.Errors;
        }
        var match = errors.FirstOrDefault(e => e.Message.Contains(step.ErrorContains, StringComparison.OrdinalIgnoreCase)
            && (step.Line is null || e.Location.Line == step.Line) && (step.Column is null || e.Location.Column == step.Column));
        if (match is null)
        {
            var where = step.Line is { } l ? $" at line {l}" + (step.Column is { } c ? $", column {c}" : "") : "";
            throw new StepFailedException(new StepFailure($"{step.File} was rejected, but not with the expected error",
                $"an error{where} containing \"{step.ErrorContains}\"", string.Join(" | ", errors.Select(e => $"{e.Location.Line}:{e.Location.Column}: {e.Message}"))));
        }
        return Task.FromResult<(IReadOnlyList<StepResult>?, string?)>((null, $"{match.Location.Line}:{match.Location.Column}: {match.Message}"));
    }

    /// <summary>Waits for <paramref name="probe"/> on <paramref name="vm"/>; on the step's timeout, fails with <paramref name="onTimeout"/>'s details.</summary>
    private static async Task<T> WaitOrFail<T>(IScenarioVm vm, Func<VmObservation, T?> probe, StepContext context, Func<StepFailure> onTimeout) where T : class
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

    private static string Printable(string s) => s.Replace("\n", "\\n").Replace("\r", "\\r");

    private static string FormatMs(TimeSpan t) => $"{t.TotalMilliseconds:0.0} ms";

    private sealed record StepContext(string Path, Step Step, TimeSpan? Timeout, CancellationToken CancellationToken);
}
