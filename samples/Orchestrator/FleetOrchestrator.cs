using System.Threading.Channels;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Samples.Orchestrator;

/// <summary>
/// Runs one fleet on a cluster: subscribes to the events of every VM before creating any, creates and starts each VM,
/// then acts on the events: a VM that fails (or whose node is lost) is destroyed and created and started again, up to
/// <see cref="OrchestratorOptions.MaxRestarts"/> times. At the end it prints a summary and destroys the fleet.
/// Events are handled one at a time on the caller's task (the client's actor only queues them).
/// </summary>
internal sealed class FleetOrchestrator(ApiClient client, OrchestratorOptions options, TextWriter output)
{
    private readonly Dictionary<string, FleetVm> _fleet = options.Fleet.ToDictionary(s => s.Name, s => new FleetVm(s), StringComparer.Ordinal);
    private readonly Channel<IApiMessage> _events = Channel.CreateUnbounded<IApiMessage>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Runs the fleet until it has settled or the duration is over; returns the process's exit code.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        if (await RequestAsync(new ClusterStatusRequest(), "cluster status", cancellationToken) is not ClusterStatusReply status) return 1;
        var up = status.Nodes.Where(n => n.Status == "Up" && n.Accelerator is not null).Select(n => n.Name).ToList();
        Print($"connected: cluster {status.ClusterName}, {up.Count} hypervisors up ({string.Join(", ", up)})");

        // Subscribed before the first create, so that no change of a fleet VM goes unseen.
        var subscriber = client.Subscribe(m => _events.Writer.TryWrite(m));
        if (await RequestAsync(new SubscribeVmEventsRequest(null, subscriber), "event subscription", cancellationToken) is not SubscribedReply) return 1;
        Print("watching: the events of every VM");

        foreach (var vm in _fleet.Values) await LaunchAsync(vm, restart: false, cancellationToken);
        await WatchAsync(cancellationToken);

        await RequestAsync(new UnsubscribeVmEventsRequest(null, subscriber), "unsubscribe", cancellationToken);
        PrintSummary();
        if (!options.Keep)
        {
            foreach (var vm in _fleet.Values)
            {
                if (await RequestAsync(new DestroyVmRequest(vm.Name), $"destroy of {vm.Name}", cancellationToken) is VmReply) Print($"destroyed: {vm.Name}");
            }
        }
        return 0;
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var end = DateTimeOffset.UtcNow + options.Duration;
        while (true)
        {
            var now = DateTimeOffset.UtcNow;
            if (now >= end)
            {
                Print($"watch: {options.Duration.TotalSeconds:0} s are over");
                return;
            }
            var settledAt = options.ExitWhenSettled ? SettledAt(now) : null;
            if (settledAt <= now)
            {
                Print("watch: the fleet has settled (every VM running, or given up on)");
                return;
            }
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wake.CancelAfter((settledAt is { } at && at < end ? at : end) - now);
            try
            {
                if (!await _events.Reader.WaitToReadAsync(wake.Token)) return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                continue;
            }
            while (_events.Reader.TryRead(out var message)) await HandleAsync(message, cancellationToken);
        }
    }

    private async Task HandleAsync(IApiMessage message, CancellationToken cancellationToken)
    {
        if (message is not VmEventNotice notice || !_fleet.TryGetValue(notice.Vm, out var vm)) return;
        Print($"event: {notice.Vm} on {notice.Node} is {notice.Status} ({notice.Detail})");
        vm.Status = notice.Status;
        vm.Node = notice.Node;
        if (notice.Status == VmStatus.Running) vm.RunningSince = DateTimeOffset.UtcNow;
        if (notice.Status is not (VmStatus.Failed or VmStatus.Lost) || vm.Busy || vm.GaveUp) return;
        vm.Failures++;
        vm.LastFailure = await OutcomeAsync(notice, cancellationToken);
        Print($"failed: {vm.Name} on {notice.Node}: {vm.LastFailure} (failure {vm.Failures})");
        if (vm.Restarts >= options.MaxRestarts)
        {
            vm.GaveUp = true;
            Print($"gave up: {vm.Name} failed {vm.Failures} times, after {vm.Restarts} restarts");
            return;
        }
        vm.Restarts++;
        Print($"restarting: {vm.Name} (restart {vm.Restarts} of at most {options.MaxRestarts})");
        await LaunchAsync(vm, restart: true, cancellationToken);
    }

    // How the VM ended, as its node describes it (a status notice's detail may only name the transition).
    private async Task<string> OutcomeAsync(VmEventNotice notice, CancellationToken cancellationToken)
    {
        if (notice.Status == VmStatus.Lost) return notice.Detail;
        var reply = await client.RequestAsync(new DescribeVmRequest(notice.Vm), cancellationToken);
        return reply is VmDescriptionReply { Vm.Outcome: { } outcome } ? outcome : notice.Detail;
    }

    // Create and start; on a restart, destroy the failed VM first (that frees its name).
    private async Task LaunchAsync(FleetVm vm, bool restart, CancellationToken cancellationToken)
    {
        vm.Busy = true;
        try
        {
            if (restart)
            {
                var destroyed = await RequestAsync(new DestroyVmRequest(vm.Name), $"destroy of {vm.Name}", cancellationToken);
                if (destroyed is not VmReply && destroyed is not ApiErrorReply { Code: ApiErrorCode.NotFound })
                {
                    GiveUp(vm, "it could not be destroyed");
                    return;
                }
            }
            if (await RequestAsync(new CreateVmRequest(vm.Spec), $"create of {vm.Name}", cancellationToken) is not VmReply created)
            {
                GiveUp(vm, "it could not be created");
                return;
            }
            Note(vm, created.Vm);
            Print($"{(restart ? "recreated" : "created")}: {vm.Name} on {created.Vm.Node} ({created.Vm.Image}, {created.Vm.Vcpus} vCPU, {created.Vm.MemoryBytes >> 20} MiB)");
            if (await RequestAsync(new StartVmRequest(vm.Name), $"start of {vm.Name}", cancellationToken) is not VmReply started)
            {
                GiveUp(vm, "it could not be started");
                return;
            }
            Note(vm, started.Vm);
            Print($"{(restart ? "restarted" : "started")}: {vm.Name} on {started.Vm.Node} ({started.Vm.Status})");
        }
        finally
        {
            vm.Busy = false;
        }
    }

    private void Note(FleetVm vm, VmInfo info)
    {
        vm.Status = info.Status;
        vm.Node = info.Node;
        if (info.Status == VmStatus.Running) vm.RunningSince = DateTimeOffset.UtcNow;
    }

    private void GiveUp(FleetVm vm, string why)
    {
        vm.GaveUp = true;
        Print($"gave up: {vm.Name}: {why}");
    }

    // When the fleet will have settled if nothing changes (null: not while a VM is neither running nor given up on).
    private DateTimeOffset? SettledAt(DateTimeOffset now)
    {
        var since = now;
        foreach (var vm in _fleet.Values.Where(v => !v.GaveUp))
        {
            if (vm.Status != VmStatus.Running || vm.Busy || vm.RunningSince is not { } running) return null;
            if (running + options.Settle > since) since = running + options.Settle;
        }
        return since;
    }

    private void PrintSummary()
    {
        var running = _fleet.Values.Count(v => v.Status == VmStatus.Running);
        Print($"summary: {_fleet.Count} VMs, {running} running, {_fleet.Values.Count(v => v.GaveUp)} given up on, " +
              $"{_fleet.Values.Sum(v => v.Failures)} failures, {_fleet.Values.Sum(v => v.Restarts)} restarts");
        int width = Math.Max(4, _fleet.Keys.Max(k => k.Length));
        Print($"  {"NAME".PadRight(width)}  {"STATUS",-9} {"NODE",-6} {"FAILURES",8} {"RESTARTS",8}  LAST FAILURE");
        foreach (var vm in _fleet.Values)
        {
            var status = vm.GaveUp ? "gave-up" : vm.Status?.ToString() ?? "-";
            Print($"  {vm.Name.PadRight(width)}  {status,-9} {vm.Node,-6} {vm.Failures,8} {vm.Restarts,8}  {vm.LastFailure ?? "-"}");
        }
    }

    // A typed error is printed and returned like any reply; no answer at all ends the run (ApiUnavailableException).
    private async Task<IApiReply> RequestAsync(ApiRequest request, string what, CancellationToken cancellationToken)
    {
        var reply = await client.RequestAsync(request, cancellationToken);
        if (reply is ApiErrorReply error) Print($"error: {what}: {error}");
        return reply;
    }

    private void Print(string line)
    {
        output.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {line}");
        output.Flush();
    }
}
