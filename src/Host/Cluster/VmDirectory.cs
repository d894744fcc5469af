using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The cluster singleton that knows every VM and where it is: it places new VMs (<see cref="Placement"/>), keeps
/// names unique across the cluster, destroys VMs, answers list and cluster status by gathering each node's report
/// (<see cref="NodeReportGatherer"/>, naming the nodes that did not answer), and sends the events of every VM to
/// subscribers (a subscription to one VM's events goes to that VM's node, unless the VM is still being created:
/// then it is held here). Of each VM it keeps only what placement and finding need (<see cref="VmLocation"/>: name,
/// node, resources, whether it holds them, and its own Creating / Lost markers); the VM's state is its node's. It is off the path of requests for an existing VM: the API gateways send those straight to the
/// VM's node, found in the snapshot the directory copies to every node; only a request for a VM the gateway's
/// snapshot does not know yet comes here and is routed to the VM's agent. Its waits for a node end a little before
/// the request's deadline (<see cref="RequestDeadline"/>) with <see cref="ApiErrorCode.Timeout"/> naming the node. When the split-brain resolver downs a node (or it is removed), every VM
/// the directory knew on it becomes <see cref="VmStatus.Lost"/>, and the subscribers to its events are told so (those
/// the gateways sent to the node too: <see cref="FollowVmLoss"/>). Its state is rebuilt from the agents'
/// announcements whenever it starts (first start, or after the singleton moved).
/// </summary>
public sealed class VmDirectory : ReceiveActor, IWithTimers
{
    /// <summary>How soon after a change the directory copies its state to the agents.</summary>
    public static readonly TimeSpan SnapshotDelay = TimeSpan.FromMilliseconds(300);

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _agentPath;
    private readonly Dictionary<Address, NodeEntry> _nodes = new();
    private readonly Dictionary<string, VmEntry> _vms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _vmSubscribers = new(StringComparer.Ordinal);
    // Subscriptions the gateways sent to a VM's node: told only of the VM's loss, which its node cannot report.
    private readonly Dictionary<string, HashSet<IActorRef>> _lossFollowers = new(StringComparer.Ordinal);
    private readonly HashSet<IActorRef> _allSubscribers = new();
    private DateTimeOffset _recoveredFrom = DateTimeOffset.MinValue;
    private bool _snapshotPending;
    private DateTimeOffset _changedAt = DateTimeOffset.UtcNow;
    private readonly Dictionary<Address, DateTimeOffset> _copies = new();
    // Membership as this actor's own subscription has delivered it. Cluster.State is updated by another actor and
    // can lag behind both these events and the announcements that follow them, so it is not consulted here.
    private readonly Dictionary<Address, MemberStatus> _members = new();
    // Announcements from nodes this actor has not yet seen join, applied once their member event arrives.
    private readonly Dictionary<Address, (NodeAnnouncement Announcement, IActorRef Sender)> _early = new();

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the directory; agents live at <paramref name="agentPath"/> on every hypervisor.</summary>
    public static Props Props(string agentPath) => Akka.Actor.Props.Create(() => new VmDirectory(agentPath));

    /// <summary>Use <see cref="Props"/>.</summary>
    public VmDirectory(string agentPath)
    {
        _agentPath = agentPath;
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
        Receive<ListVmsRequest>(OnList);
        Receive<ClusterStatusRequest>(OnStatus);
        Receive<SubscribeVmEventsRequest>(OnSubscribe);
        Receive<UnsubscribeVmEventsRequest>(OnUnsubscribe);
        Receive<ClusterEvent.MemberUp>(m => { Track(m.Member); AskToAnnounce(m.Member); });
        Receive<ClusterEvent.MemberWeaklyUp>(m => { Track(m.Member); AskToAnnounce(m.Member); });
        Receive<ClusterEvent.MemberDowned>(m => { Track(m.Member); NodeGone(m.Member.Address, "was downed"); });
        Receive<ClusterEvent.MemberRemoved>(m => { Track(m.Member); NodeGone(m.Member.Address, "left the cluster"); });
        Receive<ClusterEvent.IMemberEvent>(m => Track(m.Member));
        Receive<ClusterEvent.IReachabilityEvent>(_ => { });
        Receive<Terminated>(t => RemoveSubscriber(t.ActorRef));
        Receive<PublishSnapshot>(_ => PublishNow());
        Receive<SnapshotStored>(m =>
        {
            var from = Sender.Path.Address.HasLocalScope ? _cluster.SelfAddress : Sender.Path.Address;
            if (!_copies.TryGetValue(from, out var had) || m.Taken > had) _copies[from] = m.Taken;
        });
    }

    // Every change reaches the agents within SnapshotDelay; bursts of changes make one copy.
    private void Changed()
    {
        if (_snapshotPending) return;
        _snapshotPending = true;
        _changedAt = DateTimeOffset.UtcNow;
        Timers.StartSingleTimer("snapshot", PublishSnapshot.Instance, SnapshotDelay);
    }

    private void PublishNow()
    {
        _snapshotPending = false;
        var snapshot = new DirectorySnapshot(DateTimeOffset.UtcNow,
            _vms.Values.Select(e => e.Location).ToList(),
            _allSubscribers.Select(s => new EventSubscription(null, s))
                .Concat(_vmSubscribers.SelectMany(kv => kv.Value.Select(s => new EventSubscription(kv.Key, s))))
                .Concat(_lossFollowers.SelectMany(kv => kv.Value.Select(s => new EventSubscription(kv.Key, s, LossOnly: true)))).ToList());
        foreach (var node in _nodes.Values) node.Agent.Tell(snapshot);
    }

    private void Recover(DirectorySnapshot snapshot)
    {
        if (snapshot.Taken <= _recoveredFrom) return;
        _recoveredFrom = snapshot.Taken;
        Changed();
        var live = _members.Where(m => m.Value is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting))
            .Select(m => m.Key).ToHashSet();
        foreach (var sub in snapshot.Subscriptions)
        {
            if (sub.Vm is null) _allSubscribers.Add(sub.Subscriber);
            else Add(sub.LossOnly ? _lossFollowers : _vmSubscribers, sub.Vm, sub.Subscriber);
            Context.Watch(sub.Subscriber);
        }
        var recovered = new List<VmEntry>();
        foreach (var location in snapshot.Vms)
        {
            var address = Address.Parse(location.NodeAddress);
            // VMs of live nodes come from those nodes' own announcements; only the departed ones are recovered here.
            if (live.Contains(address) || _vms.ContainsKey(location.Name)) continue;
            var lost = location.Marker == VmStatus.Lost ? location
                : location with { Marker = VmStatus.Lost, Outcome = $"node {location.Node} left the cluster{(location.Marker == VmStatus.Creating ? " while the VM was being created" : "")}" };
            var entry = new VmEntry(lost, address);
            _vms[lost.Name] = entry;
            if (location.Marker != VmStatus.Lost) recovered.Add(entry);
        }
        _log.Info("Recovered the directory from a snapshot of {0:O}: {1} VM(s) of departed nodes are Lost, {2} subscription(s)",
            snapshot.Taken, recovered.Count, snapshot.Subscriptions.Count);
        foreach (var e in recovered) ReportLost(e);
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
        if (_snapshotPending) PublishNow();
    }

    private void AskToAnnounce(Member member)
    {
        if (member.HasRole(NodeRoles.Hypervisor))
            Context.ActorSelection(new RootActorPath(member.Address) / _agentPath.Split('/', StringSplitOptions.RemoveEmptyEntries)).Tell(AnnounceNode.Instance);
    }

    private void Track(Member member)
    {
        _members[member.Address] = member.Status;
        if (member.Status is MemberStatus.Down or MemberStatus.Removed) _early.Remove(member.Address);
        else if (_early.Remove(member.Address, out var early)) OnAnnouncement(early.Announcement, early.Sender);
    }

    private void OnAnnouncement(NodeAnnouncement a) => OnAnnouncement(a, Sender);

    private void OnAnnouncement(NodeAnnouncement a, IActorRef sender)
    {
        var address = Address.Parse(a.Node.Address);
        if (!_members.TryGetValue(address, out var status))
        {
            // Sent before this actor's subscription reported the node: keep the latest, apply it when it does.
            _early[address] = (a, sender);
            return;
        }
        // A leaving node's last announcement (its VMs destroyed) still counts; a downed or removed one's does not.
        if (status is MemberStatus.Down or MemberStatus.Removed)
        {
            _log.Warning("Ignoring an announcement of node {0} at {1}: it is not a live member", a.Node.Name, a.Node.Address);
            return;
        }
        if (_nodes.Values.FirstOrDefault(n => n.Info.Name == a.Node.Name && n.Address != address) is { } clash)
            _log.Error("Two nodes are named {0}: {1} and {2}; VMs can only be placed on one of them by name", a.Node.Name, clash.Address, address);
        bool known = _nodes.ContainsKey(address);
        _nodes[address] = new NodeEntry(a.Node, address, a.Agent);
        if (!known) _log.Info("Hypervisor {0} at {1}: {2}, {3} vCPUs, {4} MiB", a.Node.Name, address, a.Node.AcceleratorDescription, a.Node.Vcpus, a.Node.MemoryBytes >> 20);
        if (a.Snapshot is { } snapshot) Recover(snapshot);
        var announced = a.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var stale in _vms.Values.Where(e => e.Address == address && e.Location.Marker != VmStatus.Creating && !announced.ContainsKey(e.Location.Name)).ToList())
            Remove(stale.Location.Name);
        foreach (var vm in a.Vms)
        {
            if (_vms.TryGetValue(vm.Name, out var existing) && existing.Address != address && existing.Location.Marker != VmStatus.Lost)
            {
                _log.Error("VM {0} is reported by {1} but already known on {2}; keeping the first", vm.Name, a.Node.Name, existing.Location.Node);
                continue;
            }
            _vms[vm.Name] = new VmEntry(VmLocation.Of(vm, address.ToString()), address);
        }
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
        var holds = VmLocation.Holds(m.Vm.Status);
        if (holds != e.Location.HoldsResources)
        {
            e.Location = e.Location with { HoldsResources = holds };
            Changed();
        }
        if (m.Before != m.Vm.Status) Notify(m.Vm, m.Vm.Outcome ?? (m.Before is { } before ? $"{before} -> {m.Vm.Status}" : $"now {m.Vm.Status}"));
    }

    private void OnFollowLoss(FollowVmLoss f)
    {
        // Only while the VM is still where the gateway found it; a loss already known is reported at once.
        if (!_vms.TryGetValue(f.Vm, out var e) || e.Location.NodeAddress != f.NodeAddress) return;
        if (e.Location.Marker == VmStatus.Lost)
        {
            TellLost(f.Subscriber, e.Location);
            return;
        }
        Add(_lossFollowers, f.Vm, f.Subscriber);
        Context.Watch(f.Subscriber);
        Changed();
    }

    private static void Add(Dictionary<string, HashSet<IActorRef>> sets, string vm, IActorRef subscriber)
    {
        if (!sets.TryGetValue(vm, out var set)) sets[vm] = set = new HashSet<IActorRef>();
        set.Add(subscriber);
    }

    private void Remove(string vm)
    {
        _vms.Remove(vm);
        _lossFollowers.Remove(vm);
    }

    private void OnCreate(CreateVmRequest r)
    {
        var spec = r.Spec;
        if (_vms.TryGetValue(spec.Name, out var existing))
        {
            var marker = existing.Location.Marker is { } m ? $" ({m})" : "";
            Sender.Tell(new ApiErrorReply(ApiErrorCode.AlreadyExists,
                $"spec.name: a VM named '{spec.Name}' already exists on node {existing.Location.Node}{marker}; destroy it first or pick another name", "spec.name"));
            return;
        }
        var placed = Placement.Choose(Loads(), spec);
        if (placed.Error is { } error)
        {
            Sender.Tell(error);
            return;
        }
        var node = _nodes.Values.First(n => n.Address.ToString() == placed.Node!.Address);
        _vms[spec.Name] = new VmEntry(new VmLocation(spec.Name, node.Info.Name, node.Address.ToString(), spec.Vcpus, spec.MemoryBytes, spec.Image, true, VmStatus.Creating), node.Address);
        Changed();
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        node.Agent.Ask<CreateOnNodeResult>(new CreateOnNode(spec, (int)wait.TotalMilliseconds), wait).PipeTo(Self,
            success: result => new CreateDone(spec.Name, node.Address, replyTo, result),
            failure: e => new CreateDone(spec.Name, node.Address, replyTo, new CreateOnNodeResult(spec.Name, null, NodeDidNotAnswer(node, $"create of VM '{spec.Name}'", wait, e))));
    }

    private void OnCreateDone(CreateDone d)
    {
        bool live = _vms.TryGetValue(d.Name, out var e) && e.Address == d.Address && e.Location.Marker == VmStatus.Creating;
        Changed();
        if (d.Result.Vm is { } vm && live)
        {
            e!.Location = VmLocation.Of(vm, d.Address.ToString());
            d.ReplyTo.Tell(new VmReply(vm));
            Notify(vm, "created");
            return;
        }
        if (live) Remove(d.Name);
        d.ReplyTo.Tell(d.Result.Error ?? new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"VM '{d.Name}': its node was lost while it was being created"));
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
                EndSubscriptions(r.Name, "the VM was destroyed");
                return;
            case VmStatus.Creating:
                Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{r.Name}' is still being created on {e.Location.Node}; try again in a moment", "name"));
                return;
        }
        var node = _nodes[e.Address];
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        node.Agent.Ask<DestroyOnNodeResult>(new DestroyOnNode(r.Name, (int)wait.TotalMilliseconds), wait).PipeTo(Self,
            success: result => new DestroyDone(r.Name, e.Address, replyTo, result),
            failure: ex => new DestroyDone(r.Name, e.Address, replyTo, new DestroyOnNodeResult(r.Name, null, NodeDidNotAnswer(node, $"destroy of VM '{r.Name}'", wait, ex))));
    }

    private static ApiErrorReply NodeDidNotAnswer(NodeEntry node, string what, TimeSpan wait, Exception e) => e is AskTimeoutException
        ? new(ApiErrorCode.Timeout, $"node {node.Info.Name} did not answer the {what} within {RequestDeadline.Print(wait)} (the request's deadline less a margin; asked by the VM directory)")
        : new(ApiErrorCode.NodeUnavailable, $"node {node.Info.Name} did not answer the {what} ({e.GetType().Name}: {e.Message})");

    private void OnDestroyDone(DestroyDone d)
    {
        var gone = d.Result.Vm is not null || d.Result.Error?.Code == ApiErrorCode.NotFound;
        if (gone && _vms.TryGetValue(d.Name, out var e) && e.Address == d.Address)
        {
            Remove(d.Name);
            EndSubscriptions(d.Name, "the VM was destroyed");
            Changed();
        }
        d.ReplyTo.Tell(d.Result.Vm is { } vm ? new VmReply(vm) : d.Result.Error!);
    }

    private void Route(string name, ApiRequest request)
    {
        if (!TryFind(name, out var e)) return;
        if (e.Location.Marker == VmStatus.Lost)
            Sender.Tell(new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"VM '{name}' is Lost: {e.Location.Outcome}; destroy it to free the name", "name"));
        else if (e.Location.Marker == VmStatus.Creating)
            Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{name}' is still being created on {e.Location.Node}; try again in a moment", "name"));
        else if (!_nodes.TryGetValue(e.Address, out var node))
            Sender.Tell(new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"VM '{name}' is on {e.Location.Node}, which has not announced itself yet", "name"));
        else
        {
            // A subscription sent on to the VM's node is followed here for the node's loss, as a gateway's would be.
            if (request is SubscribeVmEventsRequest s)
            {
                Add(_lossFollowers, name, s.Subscriber);
                Context.Watch(s.Subscriber);
                Changed();
            }
            node.Agent.Forward(request);
        }
    }

    private bool TryFind(string name, out VmEntry entry)
    {
        if (_vms.TryGetValue(name, out entry!)) return true;
        Sender.Tell(new ApiErrorReply(ApiErrorCode.NotFound, $"name: no VM named '{name}' in the cluster", "name"));
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
                case VmStatus.Creating:
                    // Held here until the VM is built; its node streams it from then on only to new subscriptions.
                    Add(_vmSubscribers, name, r.Subscriber);
                    Context.Watch(r.Subscriber);
                    Sender.Tell(new SubscribedReply(name, "events", true));
                    r.Subscriber.Tell(Notice(e.Location.MarkedInfo(), "current state"));
                    return;
                case VmStatus.Lost:
                    // Nothing more will happen to it: the subscriber learns that, and the stream ends.
                    Sender.Tell(new SubscribedReply(name, "events", true));
                    TellLost(r.Subscriber, e.Location);
                    return;
                default:
                    Route(name, r);
                    return;
            }
        }
        _allSubscribers.Add(r.Subscriber);
        Context.Watch(r.Subscriber);
        Sender.Tell(new SubscribedReply(null, "events", true));
    }

    private void OnUnsubscribe(UnsubscribeVmEventsRequest r)
    {
        Changed();
        if (r.Name is { } name)
        {
            if (_vmSubscribers.TryGetValue(name, out var set)) set.Remove(r.Subscriber);
            if (_lossFollowers.TryGetValue(name, out var followers)) followers.Remove(r.Subscriber);
        }
        else
        {
            RemoveSubscriber(r.Subscriber);
        }
        Sender.Tell(new SubscribedReply(r.Name, "events", false));
    }

    private void RemoveSubscriber(IActorRef subscriber)
    {
        Changed();
        _allSubscribers.Remove(subscriber);
        foreach (var set in _vmSubscribers.Values) set.Remove(subscriber);
        foreach (var set in _lossFollowers.Values) set.Remove(subscriber);
        Context.Unwatch(subscriber);
    }

    private void NodeGone(Address address, string how)
    {
        var name = _nodes.TryGetValue(address, out var node) ? node.Info.Name : address.ToString();
        _nodes.Remove(address);
        _copies.Remove(address);
        Changed();
        var lost = _vms.Values.Where(e => e.Address == address && e.Location.Marker != VmStatus.Lost).ToList();
        if (lost.Count > 0) _log.Warning("Node {0} {1}: {2} VM(s) are Lost", name, how, lost.Count);
        foreach (var e in lost)
        {
            var was = e.Location.Marker == VmStatus.Creating ? " while the VM was being created" : "";
            e.Location = e.Location with { Marker = VmStatus.Lost, Outcome = $"node {name} {how}{was}" };
            ReportLost(e);
        }
    }

    // Every subscriber of the VM hears of its loss: those held here, those whose subscription went to its node, and those of every VM.
    private void ReportLost(VmEntry e)
    {
        var name = e.Location.Name;
        Notify(e.Location.MarkedInfo(), e.Location.Outcome!);
        EndSubscriptions(name, e.Location.Outcome!, keep: true);
        if (_lossFollowers.Remove(name, out var followers))
            foreach (var s in followers) TellLost(s, e.Location);
    }

    private static void TellLost(IActorRef subscriber, VmLocation lost)
    {
        subscriber.Tell(Notice(lost.MarkedInfo(), lost.Outcome ?? $"node {lost.Node} is gone"));
        subscriber.Tell(new StreamEnded(lost.Name, lost.Outcome ?? $"node {lost.Node} is gone"));
    }

    private void Notify(VmInfo vm, string detail)
    {
        var notice = Notice(vm, detail);
        if (_vmSubscribers.TryGetValue(vm.Name, out var set))
            foreach (var s in set) s.Tell(notice);
        foreach (var s in _allSubscribers) s.Tell(notice);
    }

    private static VmEventNotice Notice(VmInfo vm, string detail) => new(vm.Name, vm.Node, vm.Status, detail, DateTimeOffset.UtcNow);

    private void EndSubscriptions(string vm, string reason, bool keep = false)
    {
        if (!_vmSubscribers.TryGetValue(vm, out var set)) return;
        foreach (var s in set) s.Tell(new StreamEnded(vm, reason));
        if (!keep) _vmSubscribers.Remove(vm);
        else set.Clear();
    }

    private List<NodeLoad> Loads()
    {
        var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address).ToHashSet();
        var unreachable = _cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        return _nodes.Values
            .Where(n => up.Contains(n.Address) && !unreachable.Contains(n.Address))
            .Select(n =>
            {
                var held = Held(n.Address);
                return new NodeLoad(n.Info.Name, n.Address.ToString(), n.Info.Vcpus, held.Sum(v => v.Vcpus), n.Info.MemoryBytes,
                    held.Aggregate(0UL, (s, v) => s + v.MemoryBytes));
            })
            .ToList();
    }

    // What the directory counts as held on a node: VMs being created there and those its node last reported holding resources.
    private List<VmLocation> Held(Address address) =>
        _vms.Values.Where(e => e.Address == address && e.Location.Marker != VmStatus.Lost && e.Location.HoldsResources).Select(e => e.Location).ToList();

    // The nodes' agents report their VMs (the directory keeps no VM state); the reply names the ones that did not answer.
    private void Gather(ApiRequest request, string? onlyNode, Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> compose)
    {
        var unreachable = _cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        var nodes = _nodes.Values.Where(n => onlyNode is null || n.Info.Name == onlyNode).ToList();
        // By name (two nodes of one name, an error the announcements log, are asked as one).
        var asked = new Dictionary<string, IActorRef>(StringComparer.Ordinal);
        foreach (var n in nodes.Where(n => !unreachable.Contains(n.Address))) asked[n.Info.Name] = n.Agent;
        var notAsked = nodes.Where(n => unreachable.Contains(n.Address)).Select(n => n.Info.Name).ToList();
        var wait = RequestDeadline.Inner(RequestDeadline.Of(request));
        Context.ActorOf(NodeReportGatherer.Props(asked, notAsked, wait, Sender, compose));
    }

    private void OnList(ListVmsRequest r)
    {
        // The directory's own lines (being created, lost) with the nodes' reports of the others.
        var marked = _vms.Values.Where(e => e.Location.Marker is not null).Select(e => e.Location.MarkedInfo()).ToList();
        var markedNames = marked.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        // A list of one node's VMs asks only that node (none, if no node has that name).
        Gather(r, r.Node, (reports, unanswered) => new VmListReply(
            reports.SelectMany(report => report.Vms).Where(v => !markedNames.Contains(v.Name)).Concat(marked)
                .Where(v => r.Node is null || v.Node == r.Node)
                .OrderBy(v => v.Name, StringComparer.Ordinal).ToList(),
            unanswered));
    }

    private void OnStatus(ClusterStatusRequest r)
    {
        var status = Status();
        Gather(r, null, (reports, unanswered) =>
        {
            var byNode = reports.ToDictionary(report => report.Node, StringComparer.Ordinal);
            return status with
            {
                Nodes = status.Nodes.Select(n =>
                {
                    if (!byNode.TryGetValue(n.Name, out var report)) return n;
                    // The node's registry counts a VM from the moment it is asked to build it; the directory's Creating
                    // lines add only those the node has not reported yet.
                    var creating = Creating(n.Address).Count(c => report.Vms.All(v => v.Name != c.Name));
                    return n with { UsedVcpus = report.UsedVcpus, UsedMemoryBytes = report.UsedMemoryBytes, VmCount = report.Vms.Count + creating };
                }).ToList(),
                UnansweredNodes = unanswered,
            };
        });
    }

    private List<VmLocation> Creating(string nodeAddress) =>
        _vms.Values.Where(e => e.Location.NodeAddress == nodeAddress && e.Location.Marker == VmStatus.Creating).Select(e => e.Location).ToList();

    // The directory's own view: membership, capacity, and its placement figures for each node's load.
    private ClusterStatusReply Status()
    {
        var state = _cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var nodes = state.Members.Concat(state.Unreachable.Where(u => state.Members.All(m => m.Address != u.Address)))
            .Select(m =>
            {
                _nodes.TryGetValue(m.Address, out var n);
                var live = Held(m.Address);
                return new NodeStatus(n?.Info.Name ?? "", m.Address.ToString(), unreachable.Contains(m.Address) ? "Unreachable" : m.Status.ToString(),
                    m.Roles.Order(StringComparer.Ordinal).ToList(), n?.Info.Accelerator, n?.Info.AcceleratorDescription,
                    n?.Info.Vcpus ?? 0, live.Sum(v => v.Vcpus), n?.Info.MemoryBytes ?? 0, live.Aggregate(0UL, (s, v) => s + v.MemoryBytes),
                    _vms.Values.Count(e => e.Address == m.Address),
                    _copies.TryGetValue(m.Address, out var copy) ? copy : null);
            })
            .OrderBy(n => n.Name, StringComparer.Ordinal).ThenBy(n => n.Address, StringComparer.Ordinal)
            .ToList();
        return new ClusterStatusReply(Context.System.Name, state.Leader?.ToString(), _cluster.SelfAddress.ToString(), nodes, _changedAt);
    }

    private sealed record NodeEntry(NodeInfo Info, Address Address, IActorRef Agent);

    private sealed class VmEntry(VmLocation location, Address address)
    {
        public VmLocation Location { get; set; } = location;
        public Address Address { get; } = address;
    }

    private sealed record CreateDone(string Name, Address Address, IActorRef ReplyTo, CreateOnNodeResult Result);

    private sealed record DestroyDone(string Name, Address Address, IActorRef ReplyTo, DestroyOnNodeResult Result);

    private sealed record PublishSnapshot
    {
        public static readonly PublishSnapshot Instance = new();
    }
}
