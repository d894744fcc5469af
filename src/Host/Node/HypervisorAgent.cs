using Actorvisor.Actors.Node;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's face to the cluster (/user/hypervisor): owns the local NodeActor (the VM registry of the actor
/// runtime), builds VMs the directory places here, carries out VM requests the directory routes here,
/// follows every VM with a <see cref="VmWatcher"/>, and announces the node (capacity, accelerator, VMs) to the
/// directory, keeping the directory's latest snapshot for whichever node hosts it next. On <see cref="ShutdownAgent"/> (CoordinatedShutdown) it destroys every VM, then announces an
/// empty node so the directory forgets them rather than reporting them Lost.
/// Supervision: watchers are stopped if they throw; the NodeActor supervises the VmActors itself.
/// </summary>
public sealed class HypervisorAgent : ReceiveActor
{
    /// <summary>The agent's name under /user.</summary>
    public const string Name = "hypervisor";

    /// <summary>The agent's path on every hypervisor.</summary>
    public const string Path = "/user/" + Name;

    /// <summary>How long the NodeActor may take to answer a request.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly NodeInfo _info;
    private readonly IAccelerator _accelerator;
    private readonly VmImageResolver _images;
    private readonly IActorRef _directory;
    private readonly IActorRef _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, VmInfo> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IActorRef> _watchers = new(StringComparer.Ordinal);
    private readonly List<IActorRef> _shutdownRequesters = new();
    private DirectorySnapshot? _snapshot;
    private long _serial;
    private bool _shuttingDown;

    /// <summary>Props for the agent of a node described by <paramref name="info"/>.</summary>
    public static Props Props(NodeInfo info, IAccelerator accelerator, VmImageResolver images, IActorRef directory) =>
        Akka.Actor.Props.Create(() => new HypervisorAgent(info, accelerator, images, directory));

    /// <summary>Use <see cref="Props"/>.</summary>
    public HypervisorAgent(NodeInfo info, IAccelerator accelerator, VmImageResolver images, IActorRef directory)
    {
        _info = info;
        _accelerator = accelerator;
        _images = images;
        _directory = directory;
        _node = Context.ActorOf(NodeActor.Props(new NodeCapacity(info.Vcpus, info.MemoryBytes)), "vms");

        Receive<AnnounceNode>(_ => Sender.Tell(Announcement()));
        Receive<AnnouncementAccepted>(_ => { });
        Receive<DirectorySnapshot>(snapshot =>
        {
            if (_snapshot is null || snapshot.Taken >= _snapshot.Taken) _snapshot = snapshot;
            Sender.Tell(new SnapshotStored(snapshot.Taken));
        });
        Receive<CreateOnNode>(OnCreate);
        Receive<Created>(OnCreated);
        Receive<DestroyOnNode>(OnDestroy);
        Receive<Destroyed>(OnDestroyed);
        Receive<VmRecordChanged>(m =>
        {
            if (!_records.ContainsKey(m.Vm.Name)) return;
            _records[m.Vm.Name] = m.Vm;
            _directory.Tell(m);
        });
        Receive<StartVmRequest>(r => Transition(r.Name, StartVm.Instance));
        Receive<PauseVmRequest>(r => Transition(r.Name, PauseVm.Instance));
        Receive<ResumeVmRequest>(r => Transition(r.Name, ResumeVm.Instance));
        Receive<StopVmRequest>(r => Transition(r.Name, StopVm.Instance));
        Receive<DescribeVmRequest>(OnDescribe);
        Receive<SubscribeConsoleRequest>(r =>
        {
            if (_watchers.TryGetValue(r.Name, out var watcher)) watcher.Forward(r);
            else Sender.Tell(NotHere(r.Name));
        });
        Receive<ShutdownAgent>(_ => OnShutdown());
        Receive<NodeShutDown>(OnNodeShutDown);
    }

    /// <inheritdoc />
    protected override void PreStart() => _directory.Tell(Announcement());

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    private NodeAnnouncement Announcement() => new(_info, Self, _records.Values.ToList(), _snapshot);

    private void OnCreate(CreateOnNode c)
    {
        var name = c.Spec.Name;
        if (_shuttingDown)
        {
            Sender.Tell(new CreateOnNodeResult(name, null, new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"node {_info.Name} is shutting down")));
            return;
        }
        var (spec, error) = _images.Resolve(c.Spec, _accelerator);
        if (error is not null)
        {
            Sender.Tell(new CreateOnNodeResult(name, null, error));
            return;
        }
        var replyTo = Sender;
        _node.Ask(new CreateVm(spec!), RequestTimeout).PipeTo(Self,
            success: reply => new Created(c.Spec, replyTo, reply),
            failure: e => new Created(c.Spec, replyTo, e));
    }

    private void OnCreated(Created c)
    {
        var name = c.Spec.Name;
        switch (c.Reply)
        {
            case VmCreated created:
                var record = new VmInfo(name, _info.Name, VmStatus.Created, c.Spec.Vcpus, c.Spec.MemoryBytes, c.Spec.Image, null);
                _records[name] = record;
                _watchers[name] = Context.ActorOf(VmWatcher.Props(record, created.Vm), $"watch-{name}-{++_serial}");
                _log.Info("Created VM {0} ({1}, {2} vCPUs, {3} MiB)", name, c.Spec.Image, c.Spec.Vcpus, c.Spec.MemoryBytes >> 20);
                c.ReplyTo.Tell(new CreateOnNodeResult(name, record, null));
                break;
            case NodeRequestFailed failed:
                c.ReplyTo.Tell(new CreateOnNodeResult(name, null, ErrorOf(name, failed.Error)));
                break;
            default:
                c.ReplyTo.Tell(new CreateOnNodeResult(name, null, new ApiErrorReply(ApiErrorCode.OperationFailed, $"creating VM '{name}' on {_info.Name} failed: {Describe(c.Reply)}")));
                break;
        }
    }

    private void OnDestroy(DestroyOnNode d)
    {
        if (!_records.ContainsKey(d.Name))
        {
            Sender.Tell(new DestroyOnNodeResult(d.Name, null, NotHere(d.Name)));
            return;
        }
        var replyTo = Sender;
        _node.Ask(new DestroyVm(d.Name), RequestTimeout).PipeTo(Self,
            success: reply => new Destroyed(d.Name, replyTo, reply),
            failure: e => new Destroyed(d.Name, replyTo, e));
    }

    private void OnDestroyed(Destroyed d)
    {
        switch (d.Reply)
        {
            case VmDestroyed destroyed:
                var record = _records.GetValueOrDefault(d.Name) ?? new VmInfo(d.Name, _info.Name, VmStatus.Stopped, 0, 0, "", null);
                Forget(d.Name);
                d.ReplyTo.Tell(new DestroyOnNodeResult(d.Name, record with
                {
                    Status = VmStatuses.Of(destroyed.Outcome.FinalState),
                    Outcome = destroyed.Outcome.ToString(),
                }, null));
                break;
            case NodeRequestFailed failed:
                if (failed.Error is NodeError.UnknownVm) Forget(d.Name);
                d.ReplyTo.Tell(new DestroyOnNodeResult(d.Name, null, ErrorOf(d.Name, failed.Error)));
                break;
            default:
                d.ReplyTo.Tell(new DestroyOnNodeResult(d.Name, null, new ApiErrorReply(ApiErrorCode.OperationFailed, $"destroying VM '{d.Name}' failed: {Describe(d.Reply)}")));
                break;
        }
    }

    private void Forget(string name)
    {
        _records.Remove(name);
        if (_watchers.Remove(name, out var watcher)) Context.Stop(watcher);
    }

    private void Transition(string name, object request)
    {
        if (!_records.TryGetValue(name, out var record))
        {
            Sender.Tell(NotHere(name));
            return;
        }
        var nodeName = _info.Name;
        _node.Ask(new SendToVm(name, request), RequestTimeout).PipeTo(Sender,
            success: reply => reply switch
            {
                VmTransitioned t => new VmReply(record with { Status = VmStatuses.Of(t.State) }),
                VmStopped s => new VmReply(record with { Status = VmStatuses.Of(s.Outcome.FinalState), Outcome = s.Outcome.ToString() }),
                VmRequestFailed f => ErrorOf(name, f.Error),
                NodeRequestFailed f => ErrorOf(name, f.Error),
                _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{name}' answered {reply.GetType().Name}"),
            },
            failure: e => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{name}' on {nodeName} did not answer in {RequestTimeout.TotalSeconds:0} s ({e.GetType().Name})"));
    }

    private void OnDescribe(DescribeVmRequest r)
    {
        if (!_records.TryGetValue(r.Name, out var record))
        {
            Sender.Tell(NotHere(r.Name));
            return;
        }
        var address = _info.Address;
        _node.Ask(new DescribeVm(r.Name), RequestTimeout).PipeTo(Sender,
            success: reply => reply switch
            {
                VmDescription d => new VmDescriptionReply(record with { Status = VmStatuses.Of(d.State), Outcome = d.Outcome?.ToString() },
                    d.Description, d.Devices.ToList(), d.MemslotCount, address),
                NodeRequestFailed f => ErrorOf(r.Name, f.Error),
                _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{r.Name}' answered {reply.GetType().Name}"),
            },
            failure: e => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{r.Name}' did not answer in {RequestTimeout.TotalSeconds:0} s ({e.GetType().Name})"));
    }

    private void OnShutdown()
    {
        _shutdownRequesters.Add(Sender);
        if (_shuttingDown) return;
        _shuttingDown = true;
        _log.Info("Shutting down: destroying {0} VM(s)", _records.Count);
        _node.Tell(ShutdownNode.Instance);
    }

    private void OnNodeShutDown(NodeShutDown done)
    {
        foreach (var name in _records.Keys.ToList()) Forget(name);
        _log.Info("Destroyed {0} VM(s)", done.VmsDestroyed);
        // Leave only once the directory knows the VMs are gone, so it does not report them Lost when the
        // node is removed; if it cannot be reached in time, leave anyway.
        var requesters = _shutdownRequesters.ToList();
        _shutdownRequesters.Clear();
        _directory.Ask<AnnouncementAccepted>(Announcement(), TimeSpan.FromSeconds(5))
            .ContinueWith(_ => { foreach (var r in requesters) r.Tell(done); }, TaskScheduler.Default);
    }

    private ApiErrorReply NotHere(string name) => new(ApiErrorCode.NotFound, $"name: no VM named '{name}' on node {_info.Name}", "name");

    private static ApiErrorReply ErrorOf(string name, NodeError error) => error switch
    {
        NodeError.DuplicateVmName => new(ApiErrorCode.AlreadyExists, $"spec.name: {error.Message}", "spec.name"),
        NodeError.InsufficientCapacity => new(ApiErrorCode.NoCapacity, error.Message),
        NodeError.InvalidSpec s => new(ApiErrorCode.InvalidRequest, s.Message, "spec." + s.Problem.Split(':')[0]),
        NodeError.UnknownVm => new(ApiErrorCode.NotFound, $"name: {error.Message}", "name"),
        NodeError.ShuttingDown => new(ApiErrorCode.NodeUnavailable, error.Message),
        _ => new(ApiErrorCode.OperationFailed, error.Message),
    };

    private static ApiErrorReply ErrorOf(string name, VmError error) => error switch
    {
        VmError.InvalidTransition or VmError.NotAccepting => new(ApiErrorCode.InvalidState, $"VM '{name}': {error.Message}", "name"),
        _ => new(ApiErrorCode.OperationFailed, $"VM '{name}': {error.Message}"),
    };

    private static string Describe(object reply) => reply is Exception e ? $"{e.GetType().Name}: {e.Message}" : reply.GetType().Name;

    private sealed record Created(VmSpecification Spec, IActorRef ReplyTo, object Reply);

    private sealed record Destroyed(string Name, IActorRef ReplyTo, object Reply);
}

