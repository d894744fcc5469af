using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// A short-lived child of the <see cref="VmDirectory"/> that owns one gathering for `vm list` or `cluster status`: it asks
/// each node's agent for its VMs (<see cref="ReportNodeVms"/>), and when all have answered, or <c>wait</c> has passed, it
/// composes the reply from the reports and the names of the nodes that did not answer (with those it was told not to ask,
/// e.g. unreachable ones), sends it to the requester and stops.
/// </summary>
public sealed class NodeReportGatherer : ReceiveActor, IWithTimers
{
    private readonly Dictionary<string, IActorRef> _waitingFor;
    private readonly List<string> _unanswered;
    private readonly List<NodeVmsReport> _reports = new();
    private readonly IActorRef _replyTo;
    private readonly TimeSpan _wait;
    private readonly Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> _compose;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Props for a gathering from <paramref name="agents"/> (node name -> agent) within <paramref name="wait"/>, answered to
    /// <paramref name="replyTo"/> with what <paramref name="compose"/> makes of the reports and the unanswered node names
    /// (<paramref name="notAsked"/> among them).
    /// </summary>
    public static Props Props(IReadOnlyDictionary<string, IActorRef> agents, IReadOnlyList<string> notAsked, TimeSpan wait, IActorRef replyTo,
        Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> compose) =>
        Akka.Actor.Props.Create(() => new NodeReportGatherer(agents, notAsked, wait, replyTo, compose));

    /// <summary>Use <see cref="Props"/>.</summary>
    public NodeReportGatherer(IReadOnlyDictionary<string, IActorRef> agents, IReadOnlyList<string> notAsked, TimeSpan wait, IActorRef replyTo,
        Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> compose)
    {
        _waitingFor = new Dictionary<string, IActorRef>(agents, StringComparer.Ordinal);
        _unanswered = notAsked.ToList();
        _wait = wait;
        _replyTo = replyTo;
        _compose = compose;
        Receive<NodeVmsReport>(r =>
        {
            if (!_waitingFor.Remove(r.Node)) return;
            _reports.Add(r);
            if (_waitingFor.Count == 0) Finish();
        });
        Receive<GatherTimedOut>(_ => Finish());
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_waitingFor.Count == 0)
        {
            Finish();
            return;
        }
        var ask = new ReportNodeVms((int)_wait.TotalMilliseconds);
        foreach (var agent in _waitingFor.Values) agent.Tell(ask);
        Timers.StartSingleTimer("wait", GatherTimedOut.Instance, _wait);
    }

    private void Finish()
    {
        _unanswered.AddRange(_waitingFor.Keys);
        _replyTo.Tell(_compose(_reports, _unanswered.Order(StringComparer.Ordinal).ToList()));
        Context.Stop(Self);
    }

    private sealed record GatherTimedOut
    {
        public static readonly GatherTimedOut Instance = new();
    }
}
