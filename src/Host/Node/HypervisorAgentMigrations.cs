using Actorvisor.Actors.Migration;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Migration;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node.State;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Node;

// The agent's part in live migration, both ends. As the source (MigrateOnNode from the directory): it asks the target's
// agent to prepare (PrepareArrival), tells the VmActor to migrate there (MigrateVm: the pages go over a TCP stream from
// the VM's own thread), streams each round to the VM's event subscribers and the directory (MigrationProgress,
// MigrationUpdate), and once the VM switched over and its copy here ended, hands the subscribers and the console backlog
// to the target (HandOverSubscribers) and forgets the VM once its registry freed the name (only then is the migration
// reported completed). As the target (PrepareArrival): it checks the accelerator kind
// and its room, starts a console watcher and a MigrationArrivalActor through the node's MigrationReceiverActor ("migrations"),
// answers where the source connects, hosts the VM once it runs here and tells the directory (VmArrived), which moves the
// VM's location in one step.
public sealed partial class HypervisorAgent
{
    // How long a migration's end may wait for the directory to record it before the subscribers hear of it anyway.
    private static readonly TimeSpan MigrationEndRecordWait = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, Arrival> _arrivals = new(StringComparer.Ordinal);
    private IActorRef _receiver = ActorRefs.Nobody;
    private MigrationEndpoint _endpoint = MigrationEndpoint.Loopback;

    private void ReceiveMigrations(MigrationEndpoint endpoint)
    {
        _endpoint = endpoint;
        _receiver = Context.ActorOf(MigrationReceiverActor.Props(_accelerator, _registry, endpoint.Listen, endpoint.Tls is { } tls ? tls.Server : null), "migrations");
        Receive<MigrateOnNode>(OnMigrateOnNode);
        Receive<ArrivalReady>(OnArrivalReady);
        Receive<VmMigrationProgress>(OnMigrationProgress);
        Receive<VmMigrated>(OnMigrated);
        Receive<VmRequestFailed>(OnMigrationFailed);
        Receive<CancelMigrationOnNode>(m =>
        {
            if (_vms.TryGetValue(m.Vm, out var vm) && vm.Migration is { Ended: false }) vm.Vm.Tell(CancelVmMigration.Instance);
        });
        Receive<ConsoleHandOff>(OnConsoleHandOff);
        Receive<MigrationArrivalRecorded>(m =>
        {
            if (!_vms.TryGetValue(m.Vm, out var vm) || vm.Migration?.Id != m.Id) return;
            vm.ArrivalRecorded = true;
            FinishMigration(vm);
        });
        Receive<PrepareArrival>(OnPrepareArrival);
        Receive<ArrivalRoom>(OnArrivalRoom);
        Receive<ArrivalNews>(OnArrivalNews);
        Receive<HandOverSubscribers>(OnHandOver);
        Receive<SourceCopyDestroyed>(OnSourceCopyDestroyed);
        Receive<MigrationEndToTell>(TellEnd);
    }

    // ---- source ----------------------------------------------------------------------------------

    private void OnMigrateOnNode(MigrateOnNode m)
    {
        if (!_vms.TryGetValue(m.Vm, out var vm))
        {
            Sender.Tell(new MigrateOnNodeResult(m.Vm, null, NotHere(m.Vm)));
            return;
        }
        if (!vm.ActorAlive || vm.Migration is { Ended: false } || vm.MigratedAway)
        {
            Sender.Tell(new MigrateOnNodeResult(m.Vm, null, new ApiErrorReply(ApiErrorCode.InvalidState,
                $"VM '{m.Vm}' {(vm.ActorAlive ? "is migrating already" : "has stopped (its actor ended)")}", "name")));
            return;
        }
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(TimeSpan.FromMilliseconds(m.DeadlineMs));
        m.TargetAgent.Ask<ArrivalPrepared>(new PrepareArrival(m.Id, vm.Spec, _info.Accelerator, _info.Name), wait).PipeTo(Self,
            success: p => new ArrivalReady(m, replyTo, p),
            failure: e => new ArrivalReady(m, replyTo, new ArrivalPrepared(m.Id, null, 0, e is AskTimeoutException
                ? new ApiErrorReply(ApiErrorCode.Timeout, $"node {m.TargetNode} did not prepare for VM '{m.Vm}' within {RequestDeadline.Print(wait)}", "to")
                : new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"node {m.TargetNode} could not be asked to take VM '{m.Vm}': {e.Message}", "to"))));
    }

    private void OnArrivalReady(ArrivalReady r)
    {
        var m = r.Request;
        if (r.Prepared.Error is { } refused)
        {
            r.ReplyTo.Tell(new MigrateOnNodeResult(m.Vm, null, refused));
            return;
        }
        if (!_vms.TryGetValue(m.Vm, out var vm) || !vm.ActorAlive || vm.Migration is { Ended: false })
        {
            r.ReplyTo.Tell(new MigrateOnNodeResult(m.Vm, null, new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{m.Vm}' is gone or migrating already", "name")));
            return;
        }
        var info = new MigrationInfo(m.Id, m.Vm, _info.Name, m.TargetNode, MigrationInfo.Running, DateTimeOffset.UtcNow, null, -1, 0, 0, 0, 0, vm.Spec.MemoryBytes);
        vm.Migration = info;
        vm.MigrationTarget = m.TargetAgent;
        var options = new PreCopyOptions
        {
            MaxDowntime = TimeSpan.FromMilliseconds(m.MaxDowntimeMs ?? 100),
            PostCopy = m.Postcopy switch { "auto" => PostCopyMode.Auto, "always" => PostCopyMode.Always, _ => PostCopyMode.Never },
            BandwidthBytesPerSecond = m.BandwidthBytesPerSecond is { } limit ? (long)Math.Min(limit, long.MaxValue) : null,
        };
        _log.Info("Migrating VM {0} to node {1} ({2}:{3} over {4}, {5})", m.Vm, m.TargetNode, r.Prepared.Host, r.Prepared.Port, _endpoint.Tls is null ? "TCP" : "TLS", m.Id);
        vm.Vm.Tell(new MigrateVm(r.Prepared.Host!, r.Prepared.Port, options, Self, _endpoint.Tls is { } tls ? tls.Client : null));
        r.ReplyTo.Tell(new MigrateOnNodeResult(m.Vm, info, null));
    }

    private void OnMigrationProgress(VmMigrationProgress p)
    {
        if (!_vms.TryGetValue(p.VmName, out var vm) || vm.Migration is not { Ended: false } info) return;
        var round = p.Round;
        Report(vm, info with
        {
            Round = round.Number,
            DirtyPagesLeft = round.DirtyPagesLeft,
            DirtyPagesPerSecond = round.DirtyPagesPerSecond,
            BandwidthBytesPerSecond = round.BandwidthBytesPerSecond,
            ExpectedDowntimeMs = round.ExpectedDowntime.TotalMilliseconds,
        });
    }

    private void OnMigrated(VmMigrated m)
    {
        if (!_vms.TryGetValue(m.VmName, out var vm) || vm.Migration is not { Ended: false } info) return;
        var result = m.Result;
        vm.MigratedAway = true;
        _log.Info("VM {0} migrated to node {1} by {2}: {3} round(s), {4:0.#} ms down, {5} MiB sent", m.VmName, info.Target,
            result.PostCopy is null ? "pre-copy" : "post-copy", result.Rounds.Count, result.Downtime.TotalMilliseconds, result.WireBytes >> 20);
        var last = result.Rounds.Count > 0 ? result.Rounds[^1] : null;
        vm.Completion = info with
        {
            Status = MigrationInfo.Completed,
            EndedAt = DateTimeOffset.UtcNow,
            Round = last?.Number ?? info.Round,
            DirtyPagesLeft = 0,
            BandwidthBytesPerSecond = last?.BandwidthBytesPerSecond ?? info.BandwidthBytesPerSecond,
            DowntimeMs = result.Downtime.TotalMilliseconds,
            WireBytes = result.WireBytes,
            Switchover = result.PostCopy is null ? MigrationInfo.PreCopy : MigrationInfo.PostCopy,
        };
        FinishMigration(vm);
    }

    // Completed once the switchover happened, the directory located the VM on the target and the copy here ended (any
    // order), and then only after this node's registry freed the name: whoever hears "completed" may move the VM straight
    // back here (by post-copy the switchover itself is reported only once every page is on the target).
    private void FinishMigration(HostedVm vm)
    {
        if (vm.Completion is not { } completion || !vm.ArrivalRecorded || vm.PendingHandOff is not ConsoleHandOff handOff || vm.SourceCopyDestroying) return;
        vm.SourceCopyDestroying = true;
        _registry.Ask(new DestroyVm(handOff.Vm), MigrationReceiverActor.RegistryTimeout).PipeTo(Self,
            success: reply => new SourceCopyDestroyed(handOff.Vm, completion.Id, reply),
            failure: e => new SourceCopyDestroyed(handOff.Vm, completion.Id, e));
    }

    private void OnSourceCopyDestroyed(SourceCopyDestroyed d)
    {
        if (!_vms.TryGetValue(d.Vm, out var vm) || vm.Completion is not { } completion || completion.Id != d.MigrationId || vm.PendingHandOff is not ConsoleHandOff handOff) return;
        if (d.Reply is not (VmDestroyed or NodeRequestFailed { Error: VmRegistryError.UnknownVm }))
            _log.Warning("VM {0} migrated to node {1}, but this node's registry did not free its name ({2}): it cannot move back here until it does",
                d.Vm, completion.Target, d.Reply is Exception e ? e.Message : d.Reply.GetType().Name);
        var subscribers = vm.EventSubscribers.ToList();
        var ended = vm.Migration is { Ended: false };
        HandOver(vm, handOff);
        if (ended) ReportEnd(vm, completion, subscribers);
    }

    private void OnMigrationFailed(VmRequestFailed f)
    {
        if (!_vms.TryGetValue(f.VmName, out var vm) || vm.Migration is not { Ended: false } info) return;
        var reason = f.Error is VmError.MigrationFailed failed ? failed.Detail : f.Error.Message;
        _log.Warning("Migration {0} of VM {1} to node {2} failed: {3}", info.Id, f.VmName, info.Target, reason);
        ReportEnd(vm, info with
        {
            Status = reason == "cancelled" ? MigrationInfo.Cancelled : MigrationInfo.Failed,
            EndedAt = DateTimeOffset.UtcNow,
            Reason = reason,
        }, [.. vm.EventSubscribers]);
    }

    // A round: the VM's event subscribers and the directory hear of it.
    private void Report(HostedVm vm, MigrationInfo info)
    {
        vm.Migration = info;
        var progress = new MigrationProgress(info);
        foreach (var s in vm.EventSubscribers) s.Tell(progress);
        _directory.Tell(new MigrationUpdate(info));
    }

    // The end: the directory records it first and says so, and only then do the subscribers hear of it, so whoever hears a
    // migration ended may ask the directory for the next one at once. A directory that does not answer (it is moving to
    // another node) delays them by the wait, no more.
    private void ReportEnd(HostedVm vm, MigrationInfo info, IReadOnlyList<IActorRef> subscribers)
    {
        vm.Migration = info;
        _directory.Ask<MigrationEndRecorded>(new MigrationUpdate(info), MigrationEndRecordWait).PipeTo(Self,
            success: _ => new MigrationEndToTell(info, subscribers),
            failure: e =>
            {
                _log.Warning("Migration {0} of VM {1} ended ({2}), but the directory did not acknowledge it within {3:0.#} s: its subscribers are told anyway",
                    info.Id, info.Vm, info.Status, MigrationEndRecordWait.TotalSeconds);
                return new MigrationEndToTell(info, subscribers);
            });
    }

    private static void TellEnd(MigrationEndToTell t)
    {
        var progress = new MigrationProgress(t.Migration);
        foreach (var s in t.Subscribers) s.Tell(progress);
    }

    // The copy here ended after the switchover: its subscribers go on with the target's copy, and this node forgets it.
    private void OnConsoleHandOff(ConsoleHandOff h)
    {
        if (!_vms.TryGetValue(h.Vm, out var vm) || !vm.MigratedAway) return;
        vm.PendingHandOff = h;
        FinishMigration(vm);
    }

    private void HandOver(HostedVm vm, ConsoleHandOff h)
    {
        vm.MigrationTarget?.Tell(new HandOverSubscribers(h.Vm, [.. vm.EventSubscribers], h.Subscribers, h.Backlog));
        _subscribers.Remove(vm, vm.EventSubscribers);
        _state?.Tell(new ForgetVmDefinition(h.Vm));
        Forget(h.Vm);
    }

    // ---- target ----------------------------------------------------------------------------------

    private void OnPrepareArrival(PrepareArrival p)
    {
        var name = p.Spec.Name;
        ApiErrorReply? refused =
            _shuttingDown ? new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"node {_info.Name} is shutting down", "to")
            : p.Accelerator != _info.Accelerator ? ApiErrorReply.Invalid("to",
                $"node {_info.Name} runs the {_info.Accelerator} accelerator and VM '{name}' runs on {p.Accelerator} (node {p.SourceNode}): a VM moves only between nodes of one accelerator kind")
            : _vms.ContainsKey(name) || _arrivals.ContainsKey(name) ? new ApiErrorReply(ApiErrorCode.AlreadyExists, $"node {_info.Name} has a VM named '{name}' already", "to")
            : null;
        if (refused is not null)
        {
            Sender.Tell(new ArrivalPrepared(p.Id, null, 0, refused));
            return;
        }
        // Held from here: a second arrival of the name is refused while the room is asked for.
        _arrivals[name] = new Arrival(p, Sender);
        _registry.Ask<NodeUsage>(GetNodeUsage.Instance, MigrationReceiverActor.RegistryTimeout).PipeTo(Self,
            success: usage => new ArrivalRoom(name, usage), failure: _ => new ArrivalRoom(name, null));
    }

    private void OnArrivalRoom(ArrivalRoom r)
    {
        if (!_arrivals.TryGetValue(r.Vm, out var arrival) || arrival.Watcher is not null) return;
        var spec = arrival.Request.Spec;
        string? lacking = r.Usage is not { } usage ? "its VM registry did not say how much room it has"
            : spec.Vcpus > usage.Capacity.Vcpus - usage.UsedVcpus || spec.MemoryBytes > usage.Capacity.MemoryBytes - Math.Min(usage.UsedMemoryBytes, usage.Capacity.MemoryBytes)
                ? $"it has room for {Math.Max(0, usage.Capacity.Vcpus - usage.UsedVcpus)} vCPUs and {(usage.Capacity.MemoryBytes - Math.Min(usage.UsedMemoryBytes, usage.Capacity.MemoryBytes)) >> 20} MiB; VM '{r.Vm}' needs {spec.Vcpus} and {spec.MemoryBytes >> 20} MiB"
                : null;
        if (lacking is not null)
        {
            _arrivals.Remove(r.Vm);
            arrival.ReplyTo.Tell(new ArrivalPrepared(arrival.Request.Id, null, 0, new ApiErrorReply(ApiErrorCode.NoCapacity, $"node {_info.Name} refuses VM '{r.Vm}': {lacking}", "to")));
            return;
        }
        arrival.Watcher = Context.ActorOf(VmWatcher.ForArrival(r.Vm, PolicyOf(arrival.Request.Spec)), $"watch-{r.Vm}-{++_serial}");
        Context.ActorOf(MigrationArrivalActor.Props(r.Vm, _receiver, arrival.Watcher), $"arrival-{r.Vm}-{_serial}");
    }

    private void OnArrivalNews(ArrivalNews n)
    {
        if (!_arrivals.TryGetValue(n.Vm, out var arrival)) return;
        switch (n.News)
        {
            case MigrationListening listening:
                arrival.ReplyTo.Tell(new ArrivalPrepared(arrival.Request.Id, _endpoint.AdvertisedHost, listening.Port, null));
                return;
            case MigrationArrived arrived:
                _arrivals.Remove(n.Vm);
                arrival.Watcher!.Tell(new WatchVm(arrived.Vm));
                var hosted = Host(arrival.Request.Spec, arrived.Vm, arrival.Watcher!);
                _log.Info("VM {0} arrived from node {1} ({2}): {3} round(s), {4} page entries", n.Vm, arrival.Request.SourceNode, arrival.Request.Id,
                    arrived.Rounds, arrived.PagesReceived);
                _state?.Tell(new SaveVmDefinition(arrival.Request.Spec));
                _directory.Tell(new VmArrived(arrival.Request.Id, hosted.Info(_info.Name, VmStatus.Running, null)));
                if (arrival.HandOver is { } early) OnHandOver(early);
                return;
            case MigrationReceiveFailed failed:
                _arrivals.Remove(n.Vm);
                _log.Warning("VM {0} did not arrive from node {1} ({2}): {3}", n.Vm, arrival.Request.SourceNode, arrival.Request.Id, failed.Reason);
                Context.Stop(arrival.Watcher!);
                return;
        }
    }

    // The source's subscribers: its event subscribers hear of this node from now on, its console subscribers get this copy's output.
    private void OnHandOver(HandOverSubscribers h)
    {
        if (_arrivals.TryGetValue(h.Vm, out var arriving))
        {
            arriving.HandOver = h; // the source's copy ended before this one was hosted: applied when it is
            return;
        }
        if (!_vms.TryGetValue(h.Vm, out var vm)) return;
        var notice = new VmEventNotice(h.Vm, _info.Name, VmStatus.Running, $"migrated to node {_info.Name}", DateTimeOffset.UtcNow);
        foreach (var s in h.EventSubscribers)
        {
            if (vm.EventSubscribers.Add(s)) Context.Watch(s);
            s.Tell(notice);
        }
        vm.Watcher.Tell(new TakeConsoleSubscribers(h.ConsoleSubscribers, h.Backlog));
    }

    /// <summary>A VM this node is receiving: the request, who waits for where to connect, its console watcher once room was found, and a hand-off that came early.</summary>
    private sealed class Arrival(PrepareArrival request, IActorRef replyTo)
    {
        public PrepareArrival Request { get; } = request;

        public IActorRef ReplyTo { get; } = replyTo;

        public IActorRef? Watcher { get; set; }

        public HandOverSubscribers? HandOver { get; set; }
    }

    private sealed record ArrivalReady(MigrateOnNode Request, IActorRef ReplyTo, ArrivalPrepared Prepared);

    private sealed record ArrivalRoom(string Vm, NodeUsage? Usage);

    private sealed record SourceCopyDestroyed(string Vm, string MigrationId, object Reply);

    private sealed record MigrationEndToTell(MigrationInfo Migration, IReadOnlyList<IActorRef> Subscribers);
}
