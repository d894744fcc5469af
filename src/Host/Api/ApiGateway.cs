using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Api;

/// <summary>
/// The API actor every node serves at <see cref="ApiPaths.Gateway"/> (and registers with the
/// ClusterClientReceptionist): checks the shared token, validates the request (<see cref="ApiValidator"/>), and
/// sends it where it is answered. A request for an existing VM (start, pause, resume, stop, describe, console,
/// and subscriptions to its events) goes straight to the agent of the VM's node, found in the VM directory's latest snapshot, which every node's
/// agent receives (<see cref="DirectorySnapshotReceived"/>); so those requests do not need the directory singleton
/// and are answered while it moves. A VM the snapshot does not know yet (just created), or no longer knows where
/// it is, is reached through the directory. Create (placement), destroy, list, cluster status and subscriptions
/// to every VM's events go to the directory singleton. A VM's node cannot report its own loss, and this gateway's
/// node may be the one lost: for each event subscription it sent to a node, the gateway asks the directory to
/// follow the VM's loss (<see cref="FollowVmLoss"/>), and the directory sends the subscriber that notice and
/// <see cref="StreamEnded"/> when it marks the VM <see cref="VmStatus.Lost"/>.
/// The gateway waits a little less than the request's deadline (<see cref="RequestDeadline"/>), passes that
/// shorter deadline on, and answers <see cref="ApiErrorCode.Timeout"/> naming the layer it waited for when no
/// answer comes: the caller gets this node's typed error, not its own timeout. Anything that is not an API v1
/// request is answered with a typed error.
/// </summary>
public sealed class ApiGateway : ReceiveActor
{
    /// <summary>How long the gateway waits for the directory's own answer (list, status, event subscriptions) before it answers <see cref="ApiErrorCode.NodeUnavailable"/>.</summary>
    public static readonly TimeSpan DirectoryAnswerTimeout = TimeSpan.FromSeconds(10);

    private readonly IActorRef _directory;
    private readonly IActorRef _localAgent;
    private readonly string[] _agentPath;
    private readonly string _nodeName;
    private readonly Address _selfAddress;
    private readonly byte[]? _tokenHash;
    private readonly Histogram<double>? _requestDuration;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, ActorSelection> _agents = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, VmLocation> _locations = new Dictionary<string, VmLocation>(StringComparer.Ordinal);
    private DateTimeOffset _snapshotTaken = DateTimeOffset.MinValue;

    /// <summary>
    /// Props for the gateway of node <paramref name="nodeName"/>, in front of <paramref name="directory"/>; VM requests go to the agents at
    /// <paramref name="agentPath"/> (<paramref name="localAgent"/> on this node); <paramref name="token"/> null or empty means no token is required.
    /// </summary>
    /// With <paramref name="requestDuration"/>, the time from a request's arrival to its answer is recorded there,
    /// tagged <c>kind</c> (e.g. create_vm) and <c>outcome</c> (ok or the error code).
    public static Props Props(IActorRef directory, IActorRef localAgent, string agentPath, string nodeName, string? token,
        Histogram<double>? requestDuration = null) =>
        Akka.Actor.Props.Create(() => new ApiGateway(directory, localAgent, agentPath, nodeName, token, requestDuration));

    /// <summary>Use <see cref="Props"/>.</summary>
    public ApiGateway(IActorRef directory, IActorRef localAgent, string agentPath, string nodeName, string? token, Histogram<double>? requestDuration = null)
    {
        _requestDuration = requestDuration;
        _directory = directory;
        _localAgent = localAgent;
        _agentPath = agentPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        _nodeName = nodeName;
        _selfAddress = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
        _tokenHash = string.IsNullOrEmpty(token) ? null : Hash(token);
        Receive<ApiRequest>(request =>
        {
            if (_requestDuration is null || Sender.IsNobody()) OnRequest(request);
            else Timed(request);
        });
        Receive<TimedRequest>(t => OnRequest(t.Request));
        Receive<DirectorySnapshotReceived>(m => Learn(m.Replica));
        Receive<NodeAnswered>(OnNodeAnswered);
        ReceiveAny(m =>
        {
            _log.Warning("Refused a {0} from {1}: not an API v1 request", m.GetType().Name, Sender);
            if (!Sender.IsNobody()) Sender.Tell(ApiErrorReply.Invalid("request", $"{m.GetType().Name} is not a request of API version 1"));
        });
    }

    /// <inheritdoc />
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DirectorySnapshotReceived));

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    // Handles the request with a promise as its sender, so its answer, from whichever actor gives it, is timed
    // on its way to the caller.
    private void Timed(ApiRequest request)
    {
        var replyTo = Sender;
        long started = Stopwatch.GetTimestamp();
        var kind = new KeyValuePair<string, object?>("kind", KindOf(request));
        var histogram = _requestDuration!;
        // Ask<object>: whatever answer comes is passed on unchanged.
        Self.Ask<object>(new TimedRequest(request), RequestDeadline.Of(request)).ContinueWith(t =>
        {
            var outcome = t.IsCompletedSuccessfully ? t.Result is ApiErrorReply e ? e.Code.ToString() : "ok" : "no_answer";
            histogram.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, kind, new KeyValuePair<string, object?>("outcome", outcome));
            if (t.IsCompletedSuccessfully) replyTo.Tell(t.Result, ActorRefs.NoSender);
        }, TaskScheduler.Default);
    }

    // CreateVmRequest -> create_vm.
    private static string KindOf(ApiRequest request)
    {
        var name = request.GetType().Name;
        if (name.EndsWith("Request", StringComparison.Ordinal)) name = name[..^"Request".Length];
        var kind = new StringBuilder(name.Length + 4);
        foreach (char c in name)
        {
            if (char.IsUpper(c) && kind.Length > 0) kind.Append('_');
            kind.Append(char.ToLowerInvariant(c));
        }
        return kind.ToString();
    }

    private void OnRequest(ApiRequest request)
    {
        if (_tokenHash is not null && (request.Token is null || !CryptographicOperations.FixedTimeEquals(Hash(request.Token), _tokenHash)))
        {
            _log.Warning("Refused a {0} from {1}: {2} API token", request.GetType().Name, Sender, request.Token is null ? "no" : "a wrong");
            Sender.Tell(new ApiErrorReply(ApiErrorCode.Unauthorized,
                $"token: {(request.Token is null ? "missing" : "wrong")} API token; pass the cluster's token (--token, --token-file or ACTORVISOR_TOKEN)", "token"));
            return;
        }
        if (ApiValidator.Validate(request, HardwareSpecLimits.Current) is { } error)
        {
            Sender.Tell(error);
            return;
        }
        var wait = RequestDeadline.Inner(RequestDeadline.Of(request));
        switch (request)
        {
            case SubscribeVmEventsRequest { Name: { } name }:
                ToVm(request, name, "event subscription", wait);
                return;
            case UnsubscribeVmEventsRequest { Name: { } name } r:
                // A subscription made while the VM was being created is held by the directory, which also follows the
                // VM's loss for the others: end it there too.
                _directory.Tell(RequestDeadline.With(request, wait), ActorRefs.NoSender);
                ToVm(request, name, "event unsubscription", wait);
                return;
            case ListVmsRequest or ClusterStatusRequest or SubscribeVmEventsRequest or UnsubscribeVmEventsRequest or ListMigrationsRequest:
                // The directory answers these itself, at once. When it does not, its node is gone and the singleton
                // proxy still sends to it (until the node is downed and the directory has moved): answer with a typed
                // error rather than leave the caller waiting out its own timeout.
                var directoryWait = wait < DirectoryAnswerTimeout ? wait : DirectoryAnswerTimeout;
                _directory.Ask<IApiReply>(RequestDeadline.With(request, directoryWait), directoryWait).PipeTo(Sender, failure: _ => new ApiErrorReply(ApiErrorCode.NodeUnavailable,
                    $"the VM directory did not answer within {RequestDeadline.Print(directoryWait)}; it is moving to another node after a node loss, try again in a few seconds"));
                return;
            case StartVmRequest r:
                ToVm(r, r.Name, "start", wait);
                return;
            case PauseVmRequest r:
                ToVm(r, r.Name, "pause", wait);
                return;
            case ResumeVmRequest r:
                ToVm(r, r.Name, "resume", wait);
                return;
            case StopVmRequest r:
                ToVm(r, r.Name, "stop", wait);
                return;
            case DescribeVmRequest r:
                ToVm(r, r.Name, "describe", wait);
                return;
            case SubscribeConsoleRequest r:
                ToVm(r, r.Name, "console subscription", wait);
                return;
            case SendConsoleInputRequest r:
                ToVm(r, r.Name, "console input", wait);
                return;
            case SnapshotVmRequest r:
                ToVm(r, r.Name, "snapshot", wait);
                return;
            default:
                ViaDirectory(request, Describe(request), wait, Sender);
                return;
        }
    }

    // Straight to the VM's node when the snapshot knows it there; else the directory finds it.
    private void ToVm(ApiRequest request, string name, string what, TimeSpan wait)
    {
        if (!_locations.TryGetValue(name, out var location) || location.Marker is not null)
        {
            ViaDirectory(request, $"{what} of VM '{name}'", wait, Sender);
            return;
        }
        var replyTo = Sender;
        var inner = RequestDeadline.With(request, wait);
        long started = Stopwatch.GetTimestamp();
        var node = location.Node;
        var nodeAddress = location.NodeAddress;
        // Asked before the node answers: the node may be the one lost (so may this gateway's own node, right after it answers).
        if (request is SubscribeVmEventsRequest s) _directory.Tell(new FollowVmLoss(name, s.Subscriber, nodeAddress), ActorRefs.NoSender);
        AgentAt(nodeAddress).Ask<IApiReply>(inner, wait).PipeTo(Self,
            success: reply => new NodeAnswered(inner, name, node, nodeAddress, replyTo, reply, started, wait),
            failure: e => new NodeAnswered(inner, name, node, nodeAddress, replyTo, e is AskTimeoutException
                ? new ApiErrorReply(ApiErrorCode.Timeout, $"node {node} did not answer the {what} of VM '{name}' within {RequestDeadline.Print(wait)} " +
                    $"(the request's deadline less a margin; asked by node {_nodeName}); it may be overloaded or unreachable")
                : new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"the {what} of VM '{name}' could not be sent to node {node}: {e.Message}"), started, wait));
    }

    private void OnNodeAnswered(NodeAnswered a)
    {
        // A snapshot older than a destroy and a create elsewhere sends the request to a node that no longer has
        // the VM: the directory knows where it is now.
        if (a.Reply is ApiErrorReply { Code: ApiErrorCode.NotFound })
        {
            var left = a.Wait - Stopwatch.GetElapsedTime(a.Started);
            if (left > RequestDeadline.MinimumMargin)
            {
                ViaDirectory(a.Request, $"request for VM '{a.Name}'", left, a.ReplyTo);
                return;
            }
        }
        a.ReplyTo.Tell(a.Reply);
    }

    private void ViaDirectory(ApiRequest request, string what, TimeSpan wait, IActorRef replyTo) =>
        _directory.Ask<IApiReply>(RequestDeadline.With(request, wait), wait).PipeTo(replyTo, failure: e => e is AskTimeoutException
            ? new ApiErrorReply(ApiErrorCode.Timeout, $"the {what} was not answered within {RequestDeadline.Print(wait)} (the request's deadline less a margin; " +
                $"sent by node {_nodeName} to the VM directory, which places VMs and finds them)")
            : new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"the {what} could not be sent to the VM directory: {e.Message}"));

    // The agent's replica is immutable: it is read here as it is, however many VMs it holds.
    private void Learn(DirectoryReplica replica)
    {
        if (replica.Taken < _snapshotTaken) return;
        _snapshotTaken = replica.Taken;
        _locations = replica.Vms;
    }

    private ICanTell AgentAt(string nodeAddress)
    {
        if (!_agents.TryGetValue(nodeAddress, out var agent))
        {
            var address = Address.Parse(nodeAddress);
            if (address.Equals(_selfAddress)) return _localAgent;
            _agents[nodeAddress] = agent = Context.ActorSelection(new RootActorPath(address) / _agentPath);
        }
        return agent;
    }

    private static string Describe(ApiRequest request) => request switch
    {
        CreateVmRequest c => $"create of VM '{c.Spec.Name}'",
        RestoreVmRequest r => $"restore of VM '{r.Name}' from snapshot '{r.From}'",
        DestroyVmRequest d => $"destroy of VM '{d.Name}'",
        MigrateVmRequest m => m.Cancel ? $"cancel of VM '{m.Name}''s migration" : $"migration of VM '{m.Name}'",
        _ => request.GetType().Name,
    };

    // Comparing fixed-size digests keeps the comparison's time independent of where the tokens differ.
    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private sealed record NodeAnswered(ApiRequest Request, string Name, string Node, string NodeAddress, IActorRef ReplyTo, IApiReply Reply, long Started, TimeSpan Wait);
}

/// <summary>A request the gateway sent itself to time its answer (internal to the gateway, never sent remotely).</summary>
internal sealed record TimedRequest(ApiRequest Request);
