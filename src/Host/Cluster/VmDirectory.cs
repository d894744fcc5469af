using Actorvisor.Hardware.X86;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The cluster singleton that knows every VM and where it is: it places new VMs (<see cref="Placement"/>), keeps names
/// unique across the cluster, destroys VMs, answers list and cluster status by gathering each node's report
/// (<see cref="NodeReportGatherer"/>, naming the nodes that did not answer), and sends the events of every VM to
/// subscribers (a subscription to one VM's events goes to that VM's node, unless the VM is still being created: then
/// it is held here). Of each VM it keeps only what placement and finding need (<see cref="VmLocation"/>: name, node,
/// resources, whether it holds them, and its own Creating / Lost markers); the VM's state is its node's. It is off the
/// path of requests for an existing VM: the API gateways send those straight to the VM's node, found in the snapshot
/// the directory copies to every node; only a request for a VM the gateway's snapshot does not know yet comes here and
/// is routed to the VM's agent. Its waits for a node end a little before the request's deadline
/// (<see cref="RequestDeadline"/>) with <see cref="ApiErrorCode.Timeout"/> naming the node. When the split-brain
/// resolver downs a node (or it is removed), every VM the directory knew on it becomes <see cref="VmStatus.Lost"/>,
/// and the subscribers to its events are told so (those the gateways sent to the node too: <see cref="FollowVmLoss"/>).
/// Its state is rebuilt from the agents' announcements whenever it starts (first start, or after the singleton moved).
/// Its parts, each a helper it owns and calls only from its thread: <see cref="DirectoryTable"/> (nodes and VMs),
/// <see cref="DirectorySubscriptions"/>, <see cref="DirectoryMembership"/>, <see cref="DirectorySnapshotCopies"/>,
/// <see cref="DirectoryReports"/> (loads, list, status) and <see cref="DirectoryErrors"/>.
/// </summary>
public sealed class VmDirectory : ReceiveActor, IWithTimers
{
    /// <summary>How soon after a change the directory copies its state to the agents.</summary>
    public static readonly TimeSpan SnapshotDelay = TimeSpan.FromMilliseconds(300);

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _agentPath;
    private readonly DirectoryTable _table;
    private readonly Dictionary<Address, DirectoryNode> _nodes;
    private readonly IReadOnlyDictionary<string, DirectoryVm> _vms;
    private readonly DirectorySubscriptions _subscriptions;
    private readonly DirectoryReports _reports;
    private readonly DirectorySnapshotCopies _copies;
    private readonly DirectoryMembership _members = new();
    private readonly DirectoryMigrations _migrations = new();

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the directory; agents live at <paramref name="agentPath"/> on every hypervisor.</summary>
    public static Props Props(string agentPath) => Akka.Actor.Props.Create(() => new VmDirectory(agentPath));

    /// <summary>Use <see cref="Props"/>.</summary>
    public VmDirectory(string agentPath)
    {
        _agentPath = agentPath;
        _table = new DirectoryTable(_log);
        (_nodes, _vms) = (_table.Nodes, _table.Vms);
        _subscriptions = new DirectorySubscriptions(Context);
        _copies = new DirectorySnapshotCopies(() => Timers);
        _reports = new DirectoryReports(_cluster, Context.System.Name, _table, _copies.Copies);
        Receive<NodeAnnouncement>(OnAnnouncement);
        Receive<VmRecordChanged>(OnRecordChanged);
        Receive<FollowVmLoss>(OnFollowLoss);
        Receive<CreateVmRequest>(OnCreate);
        Receive<CreateDone>(OnCreateDone);
        Receive<DestroyVmRequest>(OnDestroy);
        Receive<DestroyDone>(OnDestroyDone);
        Receive<StartVmRequest>(r => Route(r.Name, r));
        Receive<PauseVmRequest>(r => Route(r.Name, r));
        Receive<ResumeVmRequest>(r => Route(r.Name, r));
        Receive<StopVmRequest>(r => Route(r.Name, r));
        Receive<DescribeVmRequest>(r => Route(r.Name, r));
        Receive<SubscribeConsoleRequest>(r => Route(r.Name, r));
        Receive<SendConsoleInputRequest>(r => Route(r.Name, r));
        Receive<SnapshotVmRequest>(r => Route(r.Name, r));
        // A restore is a create whose hardware comes from a snapshot on the chosen node; placement counts it as the
        // smallest VM until that node reports its real size (the node reserves the snapshot's vCPUs and memory). Without
        // a node named, placement chooses among the nodes that hold the snapshot (each node has its own directories).
        Receive<RestoreVmRequest>(OnRestore);
        Receive<SnapshotHolders>(OnSnapshotHolders);
        Receive<MigrateVmRequest>(OnMigrate);
        Receive<MigrateStarted>(OnMigrateStarted);
        Receive<MigrationUpdate>(m =>
        {
            OnMigrationUpdate(m.Migration);
            if (m.Migration.Ended) Sender.Tell(new MigrationEndRecorded(m.Migration.Id));
        });
        Receive<VmArrived>(OnArrived);
        Receive<ListMigrationsRequest>(_ => Sender.Tell(new MigrationListReply(_migrations.List())));
        Receive<ListVmsRequest>(OnList);
        Receive<ClusterStatusRequest>(OnStatus);
        Receive<SubscribeVmEventsRequest>(OnSubscribe);
        Receive<UnsubscribeVmEventsRequest>(OnUnsubscribe);
        Receive<ClusterEvent.MemberUp>(m => { Track(m.Member); AskToAnnounce(m.Member); });
        Receive<ClusterEvent.MemberWeaklyUp>(m => { Track(m.Member); AskToAnnounce(m.Member); });
        Receive<ClusterEvent.MemberDowned>(m => { if (Track(m.Member)) NodeGone(m.Member.Address, "was downed"); });
        Receive<ClusterEvent.MemberRemoved>(m => { if (Track(m.Member)) NodeGone(m.Member.Address, "left the cluster"); });
        Receive<ClusterEvent.IMemberEvent>(m => Track(m.Member));
        Receive<ClusterEvent.IReachabilityEvent>(_ => { });
        Receive<Terminated>(t => RemoveSubscriber(t.ActorRef));
        Receive<DirectorySnapshotCopies.Due>(_ => PublishNow());
        Receive<SnapshotStored>(OnSnapshotStored);
    }

    // Every change reaches the agents within SnapshotDelay; bursts of changes make one copy.
    private void Changed() => _copies.Changed();

    // Agents that hold the previous copy get only what changed since; the others (new, or behind) get all of it.
    private void PublishNow()
    {
        var (changed, removed) = _table.TakeChanges();
        _copies.Publish(changed, removed, _subscriptions, _nodes.Values,
            (taken, sequence, epoch) => new DirectorySnapshot(taken, _vms.Values.Select(e => e.Location).ToList(), _subscriptions.Snapshot(), sequence, epoch));
    }

    private void OnSnapshotStored(SnapshotStored m)
    {
        var from = Sender.Path.Address.HasLocalScope ? _cluster.SelfAddress : Sender.Path.Address;
        if (_copies.Stored(from, m)) Changed();
    }

    private void Recover(DirectorySnapshot snapshot)
    {
        if (!_copies.TryRecoverFrom(snapshot)) return;
        Changed();
        var live = _members.Live();
        _subscriptions.Restore(snapshot.Subscriptions);
        var recovered = _table.RecoverDeparted(snapshot.Vms, live);
        _log.Info("Recovered the directory from a snapshot of {0:O}: {1} VM(s) of departed nodes are Lost, {2} subscription(s)",
            snapshot.Taken, recovered.Count, snapshot.Subscriptions.Count);
        foreach (var e in recovered) _subscriptions.ReportLost(e.Location);
    }

    /// <inheritdoc />
    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    /// <inheritdoc />
    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        // Handing over (its node leaves): the next directory recovers from the agents' copies, so they must
        // hold the last changes too, e.g. the leaving node's own VMs removed by its final announcement.
        if (_copies.Pending) PublishNow();
    }

    private void AskToAnnounce(Member member)
    {
        if (member.HasRole(NodeRoles.Hypervisor))
            Context.ActorSelection(new RootActorPath(member.Address) / _agentPath.Split('/', StringSplitOptions.RemoveEmptyEntries)).Tell(AnnounceNode.Instance);
    }

    // False for the end of an incarnation already replaced at that address: the node there now is not gone.
    private bool Track(Member member)
    {
        if (_members.IsSuperseded(member))
        {
            _log.Info("Member {0} ({1}) is {2}, but a newer incarnation of it has joined: its VMs stay", member.Address, member.UniqueAddress.Uid, member.Status);
            return false;
        }
        if (_members.Track(member) is { } early) OnAnnouncement(early.Announcement, early.Sender);
        return true;
    }

    private void OnAnnouncement(NodeAnnouncement a) => OnAnnouncement(a, Sender);

    private void OnAnnouncement(NodeAnnouncement a, IActorRef sender)
    {
        var address = Address.Parse(a.Node.Address);
        if (!_members.TryGetStatus(address, out var status))
        {
            // Sent before this actor's subscription reported the node: keep the latest, apply it when it does.
            _members.HoldEarly(address, a, sender);
            return;
        }
        // A leaving node's last announcement (its VMs destroyed) still counts; a downed or removed one's does not.
        if (status is MemberStatus.Down or MemberStatus.Removed)
        {
            _log.Warning("Ignoring an announcement of node {0} at {1}: it is not a live member", a.Node.Name, a.Node.Address);
            return;
        }
        _table.AddNode(a.Node, address, a.Agent);
        // Its agent may hold no copy, or one of another directory: the next copy it gets is whole.
        _copies.SendWhole(address);
        if (a.Snapshot is { } snapshot) Recover(snapshot);
        _table.ApplyVms(a, address, Remove);
        Changed();
        sender.Tell(new AnnouncementAccepted(a.Node.Name));
    }

    private void OnRecordChanged(VmRecordChanged m)
    {
        // Only the VM's own node may change its record (a late report from an old incarnation is dropped).
        var from = Sender.Path.Address.HasLocalScope ? _cluster.SelfAddress : Sender.Path.Address;
        if (!_vms.TryGetValue(m.Vm.Name, out var e) || e.Address != from) return;
        if (e.Location.Marker is not null) return;
        // Placement needs only whether the VM still holds its resources; the status itself stays with its node.
        if (VmLocation.Holds(m.Vm.Status) is var holds && holds != e.Location.HoldsResources)
        {
            _table.Set(e, e.Location with { HoldsResources = holds });
            Changed();
        }
        if (VmNoticeRule.NoticeDetail(m.Before, m.Vm) is { } detail) _subscriptions.Notify(m.Vm, detail);
    }

    private void OnFollowLoss(FollowVmLoss f)
    {
        // Only while the VM is still where the gateway found it; a loss already known is reported at once.
        if (_vms.TryGetValue(f.Vm, out var e) && e.Location.NodeAddress == f.NodeAddress && _subscriptions.FollowLossOf(e.Location, f.Subscriber)) Changed();
    }

    private void Remove(string vm)
    {
        _table.Remove(vm);
        _subscriptions.ForgetLossFollowers(vm);
    }

    private void OnCreate(CreateVmRequest r) => Create(r, Sender, _reports.Loads);

    private void Create(CreateVmRequest r, IActorRef replyTo, Func<List<NodeLoad>> loads)
    {
        var spec = r.Spec;
        if (_table.Place(spec, loads, out var node) is { } refused)
        {
            replyTo.Tell(refused);
            return;
        }
        Changed();
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        node.Agent.Ask<CreateOnNodeResult>(new CreateOnNode(spec, (int)wait.TotalMilliseconds), wait).PipeTo(Self,
            success: result => new CreateDone(spec.Name, node.Address, replyTo, result),
            failure: e => new CreateDone(spec.Name, node.Address, replyTo, new CreateOnNodeResult(spec.Name, null, DirectoryErrors.NodeDidNotAnswer(node, $"create of VM '{spec.Name}'", wait, e))));
    }

    private static CreateVmRequest CreateOf(RestoreVmRequest r) => new(new ApiVmSpec(r.Name, 1, GuestLayout.MinRamBytes, $"snapshot {r.From}", Node: r.Node,
        CpuLimit: r.CpuLimit, RestoreFrom: r.From, RestoreMode: r.Mode)) { Token = r.Token, DeadlineMs = r.DeadlineMs };

    private void OnRestore(RestoreVmRequest r)
    {
        if (r.Node is not null)
        {
            OnCreate(CreateOf(r));
            return;
        }
        // Asked of the nodes placement may choose; one that does not answer within the wait counts as not holding it.
        var candidates = _reports.Loads().Select(l => _nodes.Values.First(n => n.Address.ToString() == l.Address)).ToList();
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        var replyTo = Sender;
        var asks = candidates.Select(n => n.Agent.Ask<SnapshotHeld>(new FindSnapshot(r.From), wait)
            .ContinueWith(t => t.IsCompletedSuccessfully && t.Result.Held ? n.Info.Name : null, TaskScheduler.Default));
        // The create that follows has what is left of the request's deadline.
        var deadline = DateTimeOffset.UtcNow + RequestDeadline.Of(r);
        Task.WhenAll(asks).PipeTo(Self, success: held => new SnapshotHolders(
            r with { DeadlineMs = (int)Math.Max(1, (deadline - DateTimeOffset.UtcNow).TotalMilliseconds) }, replyTo,
            held.OfType<string>().ToHashSet(StringComparer.Ordinal), candidates.Select(n => n.Info.Name).ToList()));
    }

    private void OnSnapshotHolders(SnapshotHolders h)
    {
        if (h.Holders.Count == 0)
        {
            h.ReplyTo.Tell(ApiErrorReply.Invalid("from", $"no node holds snapshot '{h.Request.From}' (asked: {string.Join(", ", h.Asked)}); snapshot directories are per node"));
            return;
        }
        Create(CreateOf(h.Request), h.ReplyTo, () => _reports.Loads().Where(l => h.Holders.Contains(l.Name)).ToList());
    }

    private void OnCreateDone(CreateDone d)
    {
        bool live = _vms.TryGetValue(d.Name, out var e) && e.Address == d.Address && e.Location.Marker == VmStatus.Creating;
        Changed();
        if (d.Result.Vm is { } vm && live)
        {
            _table.Set(e!, VmLocation.Of(vm, d.Address.ToString()));
            d.ReplyTo.Tell(new VmReply(vm));
            _subscriptions.Notify(vm, "created");
            return;
        }
        if (live) Remove(d.Name);
        d.ReplyTo.Tell(d.Result.Error ?? DirectoryErrors.LostWhileCreating(d.Name));
    }

    private void OnDestroy(DestroyVmRequest r)
    {
        if (!TryFind(r.Name, out var e)) return;
        switch (e.Location.Marker)
        {
            case VmStatus.Lost:
                Remove(r.Name);
                Changed();
                Sender.Tell(new VmReply(e.Location.MarkedInfo()));
                _subscriptions.EndSubscriptions(r.Name, "the VM was destroyed");
                return;
            case VmStatus.Creating:
                Sender.Tell(DirectoryErrors.StillCreating(r.Name, e.Location));
                return;
        }
        var node = _nodes[e.Address];
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        node.Agent.Ask<DestroyOnNodeResult>(new DestroyOnNode(r.Name, (int)wait.TotalMilliseconds), wait).PipeTo(Self,
            success: result => new DestroyDone(r.Name, e.Address, replyTo, result),
            failure: ex => new DestroyDone(r.Name, e.Address, replyTo, new DestroyOnNodeResult(r.Name, null, DirectoryErrors.NodeDidNotAnswer(node, $"destroy of VM '{r.Name}'", wait, ex))));
    }

    private void OnDestroyDone(DestroyDone d)
    {
        var gone = d.Result.Vm is not null || d.Result.Error?.Code == ApiErrorCode.NotFound;
        if (gone && _vms.TryGetValue(d.Name, out var e) && e.Address == d.Address)
        {
            Remove(d.Name);
            _subscriptions.EndSubscriptions(d.Name, "the VM was destroyed");
            Changed();
        }
        d.ReplyTo.Tell(d.Result.Vm is { } vm ? new VmReply(vm) : d.Result.Error!);
    }

    private void Route(string name, ApiRequest request)
    {
        if (!TryFind(name, out var e)) return;
        if (e.Location.Marker == VmStatus.Lost)
            Sender.Tell(DirectoryErrors.Lost(name, e.Location));
        else if (e.Location.Marker == VmStatus.Creating)
            Sender.Tell(DirectoryErrors.StillCreating(name, e.Location));
        else if (!_nodes.TryGetValue(e.Address, out var node))
            Sender.Tell(DirectoryErrors.NodeNotAnnounced(name, e.Location));
        else
        {
            // A subscription sent on to the VM's node is followed here for the node's loss, as a gateway's would be.
            if (request is SubscribeVmEventsRequest s)
            {
                _subscriptions.FollowLoss(name, s.Subscriber);
                Changed();
            }
            node.Agent.Forward(request);
        }
    }

    private bool TryFind(string name, out DirectoryVm entry)
    {
        if (_vms.TryGetValue(name, out entry!)) return true;
        Sender.Tell(DirectoryErrors.NotFound(name));
        return false;
    }

    private void OnSubscribe(SubscribeVmEventsRequest r)
    {
        Changed();
        if (r.Name is { } name)
        {
            if (!TryFind(name, out var e)) return;
            switch (e.Location.Marker)
            {
                case VmStatus.Creating or VmStatus.Lost:
                    _subscriptions.SubscribeToMarked(e.Location, r.Subscriber, Sender);
                    return;
                default:
                    Route(name, r);
                    return;
            }
        }
        _subscriptions.SubscribeToAll(r.Subscriber);
        Sender.Tell(new SubscribedReply(null, "events", true));
    }

    private void OnUnsubscribe(UnsubscribeVmEventsRequest r)
    {
        Changed();
        if (r.Name is { } name) _subscriptions.UnsubscribeFromVm(name, r.Subscriber);
        else RemoveSubscriber(r.Subscriber);
        Sender.Tell(new SubscribedReply(r.Name, "events", false));
    }

    private void RemoveSubscriber(IActorRef subscriber)
    {
        Changed();
        _subscriptions.Remove(subscriber);
    }

    private void NodeGone(Address address, string how)
    {
        var name = _nodes.TryGetValue(address, out var gone) ? gone.Info.Name : address.ToString();
        foreach (var running in _migrations.Touching(address))
            OnMigrationUpdate(running with { Status = MigrationInfo.Failed, EndedAt = DateTimeOffset.UtcNow, Reason = $"node {name} {how}" });
        var lost = _table.RemoveNode(address, how);
        _copies.Forget(address);
        Changed();
        foreach (var e in lost) _subscriptions.ReportLost(e.Location);
    }

    // The nodes' agents report their VMs (the directory keeps no VM state); the reply names the ones that did not answer.
    private void Gather(ApiRequest request, string? onlyNode, Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> compose)
    {
        var (asked, notAsked) = _reports.WhomToAsk(onlyNode);
        var wait = RequestDeadline.Inner(RequestDeadline.Of(request));
        Context.ActorOf(NodeReportGatherer.Props(asked, notAsked, wait, Sender, compose));
    }

    // A list of one node's VMs asks only that node (none, if no node has that name).
    private void OnList(ListVmsRequest r) => Gather(r, r.Node, _reports.List(r.Node));

    private void OnStatus(ClusterStatusRequest r) => Gather(r, null, _reports.Status(_copies.ChangedAt));

    // ---- live migration: the target chosen up front, the source's agent runs it, the location moves when the target has the VM ----

    private void OnMigrate(MigrateVmRequest r)
    {
        if (!TryFind(r.Name, out var e)) return;
        if (r.Cancel)
        {
            if (_migrations.RunningOf(r.Name) is null)
            {
                Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{r.Name}' has no migration running", "name"));
                return;
            }
            _migrations.WaitForEnd(r.Name, Sender);
            if (_nodes.TryGetValue(e.Address, out var from)) from.Agent.Tell(new CancelMigrationOnNode(r.Name));
            return;
        }
        ApiErrorReply? refused = e.Location.Marker switch
        {
            VmStatus.Lost => DirectoryErrors.Lost(r.Name, e.Location),
            VmStatus.Creating => DirectoryErrors.StillCreating(r.Name, e.Location),
            _ when _migrations.RunningOf(r.Name) is { } running => new ApiErrorReply(ApiErrorCode.InvalidState,
                $"VM '{r.Name}' is migrating to node {running.Target} already ({running.Id})", "name"),
            _ when !_nodes.ContainsKey(e.Address) => DirectoryErrors.NodeNotAnnounced(r.Name, e.Location),
            _ => null,
        };
        if (refused is not null)
        {
            Sender.Tell(refused);
            return;
        }
        var source = _nodes[e.Address];
        var accelerators = _nodes.Values.GroupBy(n => n.Info.Name).ToDictionary(g => g.Key, g => g.First().Info.Accelerator);
        var placed = MigrationPlacement.Choose(_reports.Loads(), accelerators, r.Name, e.Location.Vcpus, e.Location.MemoryBytes, source.Info.Name, r.To);
        if (placed.Error is { } error)
        {
            Sender.Tell(error);
            return;
        }
        var target = _nodes.Values.First(n => n.Address.ToString() == placed.Node!.Address);
        var info = _migrations.Begin(r.Name, source.Info.Name, target.Info.Name, source.Address, target.Address, e.Location.MemoryBytes);
        _log.Info("Migration {0}: VM {1} from node {2} to node {3}", info.Id, r.Name, source.Info.Name, target.Info.Name);
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        source.Agent.Ask<MigrateOnNodeResult>(new MigrateOnNode(info.Id, r.Name, target.Info.Name, target.Agent, r.MaxDowntimeMs, (int)wait.TotalMilliseconds,
            r.Postcopy, r.BandwidthBytesPerSecond), wait).PipeTo(Self,
            success: result => new MigrateStarted(info, replyTo, result),
            failure: ex => new MigrateStarted(info, replyTo, new MigrateOnNodeResult(r.Name, null, DirectoryErrors.NodeDidNotAnswer(source, $"migration of VM '{r.Name}'", wait, ex))));
    }

    private void OnMigrateStarted(MigrateStarted s)
    {
        if (s.Result.Error is { } error)
        {
            OnMigrationUpdate(s.Migration with { Status = MigrationInfo.Failed, EndedAt = DateTimeOffset.UtcNow, Reason = error.Message });
            s.ReplyTo.Tell(error);
            return;
        }
        s.ReplyTo.Tell(new MigrationReply(_migrations.RunningOf(s.Migration.Vm) is { } now && now.Id == s.Migration.Id ? now : s.Result.Migration ?? s.Migration));
    }

    private void OnMigrationUpdate(MigrationInfo info)
    {
        if (_migrations.Update(info) is not { } waiters) return;
        _subscriptions.TellEveryVmSubscriber(new MigrationProgress(info));
        foreach (var w in waiters) w.Tell(new MigrationReply(info));
    }

    // The VM runs on the target now: its location moves there in one step (what the source's node reports of it from now on is dropped).
    private void OnArrived(VmArrived a)
    {
        var from = Sender.Path.Address.HasLocalScope ? _cluster.SelfAddress : Sender.Path.Address;
        if (!_vms.TryGetValue(a.Vm.Name, out var e) || !_nodes.ContainsKey(from))
        {
            _log.Warning("VM {0} arrived on {1} by migration {2}, but the directory {3}", a.Vm.Name, from, a.Id, e is null ? "does not know it" : "does not know that node");
            return;
        }
        var was = e.Location.Node;
        _table.Set(new DirectoryVm(VmLocation.Of(a.Vm, from.ToString()), from));
        Changed();
        if (_nodes.TryGetValue(e.Address, out var source)) source.Agent.Tell(new MigrationArrivalRecorded(a.Id, a.Vm.Name));
        _log.Info("VM {0} moved from node {1} to node {2} ({3})", a.Vm.Name, was, a.Vm.Node, a.Id);
        _subscriptions.Notify(a.Vm, $"migrated from node {was} to node {a.Vm.Node}");
    }

    private sealed record MigrateStarted(MigrationInfo Migration, IActorRef ReplyTo, MigrateOnNodeResult Result);

    private sealed record CreateDone(string Name, Address Address, IActorRef ReplyTo, CreateOnNodeResult Result);

    // The nodes among Asked that hold the snapshot of a restore that names no node.
    private sealed record SnapshotHolders(RestoreVmRequest Request, IActorRef ReplyTo, IReadOnlySet<string> Holders, IReadOnlyList<string> Asked);

    private sealed record DestroyDone(string Name, Address Address, IActorRef ReplyTo, DestroyOnNodeResult Result);
}
