using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Remote;
using PubSub = Akka.Cluster.Tools.PublishSubscribe;

namespace Actorvisor.Host.Api.Client;

/// <summary>
/// The client end of the API: sends requests, wrapped as a ClusterClient would wrap them (a pub-sub Send to
/// <see cref="ApiPaths.Gateway"/>), to the receptionist of one node, and keeps track of every request until
/// it is answered. Unlike Akka's ClusterClient (which only notices a dead receptionist after its heartbeat
/// pause, 13 s by default, and meanwhile drops what it sends there) it drops the connection as soon as the
/// transport to that node breaks (a killed process closes its sockets) or death watch gives up on it, and
/// then answers every request still open there: a repeatable one (<see cref="RepeatableRequests"/>) is sent
/// again through the next receptionist, any other is answered with <see cref="ApiErrorCode.NodeUnavailable"/>
/// saying its outcome is unknown. So a request is answered by the cluster, or with a typed error, or (no
/// receptionist at all) times out at the caller; it never waits on a node that is gone. Event subscriptions to one
/// VM made through a lost node are sent again, unasked, through the next one (their answers are dropped): the node
/// that held one may have been the only one to know of it, and the next gateway makes sure the VM's loss is followed.
/// Receptionists are looked for at the given contacts and at every node the cluster reports Up.
/// </summary>
internal sealed class ApiConnection : ReceiveActor, IWithTimers
{
    /// <summary>How often the contacts are asked again while no receptionist answers.</summary>
    public static readonly TimeSpan IdentifyInterval = TimeSpan.FromSeconds(1);

    /// <summary>Send <paramref name="Call"/>; the sender gets the reply, if one comes within <paramref name="Timeout"/>.</summary>
    public sealed record Request(ApiRequest Call, TimeSpan Timeout);

    /// <summary>Props for a connection that starts from <paramref name="contacts"/> (receptionist paths).</summary>
    public static Props Props(IReadOnlyList<ActorPath> contacts, string? token) => Akka.Actor.Props.Create(() => new ApiConnection(contacts, token));

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private readonly List<ActorPath> _contacts;
    private readonly string? _token;
    private readonly Dictionary<IActorRef, Open> _open = new();
    private readonly List<IActorRef> _waiting = new();
    // Event subscriptions to one VM, made and not ended: sent again after a receptionist is lost.
    private readonly Dictionary<(string Vm, IActorRef Subscriber), SubscribeVmEventsRequest> _subscriptions = new();
    private readonly List<SubscribeVmEventsRequest> _resubscribe = new();
    private int _round;

    /// <summary>Use <see cref="Props"/>.</summary>
    public ApiConnection(IReadOnlyList<ActorPath> contacts, string? token)
    {
        _contacts = contacts.Distinct().ToList();
        _token = token;
        Connecting();
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
        LookForReceptionist();
    }

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Connecting()
    {
        Receive<Request>(r => _waiting.Add(Accept(r)));
        Receive<IdentifyTick>(_ => Identify());
        Receive<ActorIdentity>(id => id.Subject is not null && Equals(id.MessageId, _round), id => Connect(id.Subject!));
        Receive<ActorIdentity>(_ => { });
        Receive<Terminated>(t => Forget(t.ActorRef));
        Receive<DisassociatedEvent>(_ => { });
        Receive<ClusterStatusReply>(Learn);
        Receive<IApiReply>(_ => { });
    }

    private void Connected(IActorRef receptionist)
    {
        Receive<Request>(r => Send(receptionist, Accept(r)));
        Receive<Terminated>(t => t.ActorRef.Equals(receptionist), _ => Lost(receptionist, "it stopped answering"));
        Receive<Terminated>(t => Forget(t.ActorRef));
        Receive<DisassociatedEvent>(e => e.RemoteAddress == receptionist.Path.Address, _ => Lost(receptionist, "its connection closed"));
        Receive<DisassociatedEvent>(_ => { });
        Receive<ActorIdentity>(_ => { });
        Receive<IdentifyTick>(_ => { });
        Receive<ClusterStatusReply>(Learn);
        Receive<IApiReply>(_ => { });
    }

    private IActorRef Accept(Request r)
    {
        switch (r.Call)
        {
            case SubscribeVmEventsRequest { Name: { } vm } s:
                _subscriptions[(vm, s.Subscriber)] = s;
                Context.Watch(s.Subscriber);
                break;
            case UnsubscribeVmEventsRequest { Name: { } vm } u:
                _subscriptions.Remove((vm, u.Subscriber));
                break;
        }
        var call = Context.ActorOf(PendingCall.Props(Sender, r.Timeout));
        Context.Watch(call);
        _open[call] = new Open(r.Call);
        return call;
    }

    private void Send(IActorRef receptionist, IActorRef call)
    {
        var open = _open[call];
        open.SentTo = receptionist;
        receptionist.Tell(new PubSub.Send(ApiPaths.Gateway, open.Request, localAffinity: true), call);
    }

    // A call ended, or a subscriber stopped.
    private void Forget(IActorRef call)
    {
        foreach (var key in _subscriptions.Keys.Where(k => k.Subscriber.Equals(call)).ToList()) _subscriptions.Remove(key);
        _open.Remove(call);
        _waiting.Remove(call);
    }

    private void Connect(IActorRef receptionist)
    {
        Timers.Cancel("identify");
        Context.Watch(receptionist);
        Become(() => Connected(receptionist));
        foreach (var call in _waiting) Send(receptionist, call);
        _waiting.Clear();
        foreach (var s in _resubscribe) receptionist.Tell(new PubSub.Send(ApiPaths.Gateway, s, localAffinity: true), Self);
        _resubscribe.Clear();
        // The cluster's other nodes are receptionists too: known, they let the client outlive its contacts.
        receptionist.Tell(new PubSub.Send(ApiPaths.Gateway, new ClusterStatusRequest { Token = _token }, localAffinity: true), Self);
    }

    private void Lost(IActorRef receptionist, string why)
    {
        Context.Unwatch(receptionist);
        var node = receptionist.Path.Address;
        foreach (var (call, open) in _open.Where(o => receptionist.Equals(o.Value.SentTo)).ToList())
        {
            open.SentTo = null;
            if (RepeatableRequests.IsRepeatable(open.Request)) _waiting.Add(call);
            else
                call.Tell(new ApiErrorReply(ApiErrorCode.NodeUnavailable,
                    $"the node serving this client ({node.Host}:{node.Port}) was lost before it answered ({why}); the {Describe(open.Request)} may or may not " +
                    "have taken effect: check with `actorvisor vm list` before repeating it"));
        }
        // Those still open are among the waiting calls already.
        var stillOpen = _open.Values.Select(o => o.Request).ToHashSet();
        _resubscribe.AddRange(_subscriptions.Values.Where(s => !stillOpen.Contains(s)));
        Become(Connecting);
        LookForReceptionist();
    }

    private void LookForReceptionist()
    {
        Identify();
        Timers.StartPeriodicTimer("identify", IdentifyTick.Instance, IdentifyInterval);
    }

    // A new round for every attempt: a late answer from an earlier one (a receptionist since lost) is ignored.
    private void Identify()
    {
        _round++;
        foreach (var contact in _contacts) Context.ActorSelection(contact).Tell(new Identify(_round));
    }

    private void Learn(ClusterStatusReply status)
    {
        foreach (var node in status.Nodes.Where(n => n.Status == "Up"))
        {
            if (!ActorPath.TryParse($"{node.Address}/system/receptionist", out var path)) continue;
            if (!_contacts.Contains(path)) _contacts.Add(path);
        }
    }

    private static string Describe(ApiRequest request) => request switch
    {
        CreateVmRequest c => $"create of VM '{c.Spec.Name}'",
        StartVmRequest s => $"start of VM '{s.Name}'",
        PauseVmRequest p => $"pause of VM '{p.Name}'",
        ResumeVmRequest r => $"resume of VM '{r.Name}'",
        StopVmRequest s => $"stop of VM '{s.Name}'",
        DestroyVmRequest d => $"destroy of VM '{d.Name}'",
        SubscribeConsoleRequest c => $"console subscription of VM '{c.Name}'",
        SendConsoleInputRequest c => $"console input of VM '{c.Name}'",
        SnapshotVmRequest s => $"snapshot of VM '{s.Name}'",
        RestoreVmRequest r => $"restore of VM '{r.Name}' from snapshot '{r.From}'",
        _ => request.GetType().Name,
    };

    private sealed class Open(ApiRequest request)
    {
        public ApiRequest Request { get; } = request;

        public IActorRef? SentTo { get; set; }
    }

    private sealed record IdentifyTick
    {
        public static readonly IdentifyTick Instance = new();
    }
}
