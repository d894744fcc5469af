using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Sends one request to several children and gathers one answer from each, so that the VmActor never
/// waits: it gets a single <see cref="Collected"/> when every target has answered, died, or the timeout
/// passed, as a <see cref="FanOutDone"/> for its <see cref="FanOut"/>. Answers are matched to targets by their
/// sender (vCPU threads reply on behalf of their actor).
/// </summary>
internal sealed class ReplyCollector : ReceiveActor, IWithTimers
{
    private readonly FanOut _fanOut;
    private readonly Func<object, bool> _isAck;
    private readonly HashSet<IActorRef> _pending;
    private readonly List<object> _acks = new();
    private readonly List<object> _failures = new();
    private readonly List<string> _lost = new();
    private readonly IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> _targets;
    private readonly TimeSpan _timeout;
    private readonly bool _watch;
    private bool _reported;

    /// <summary>Timers (the deadline).</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Props for the collector of <paramref name="fanOut"/>: each target's send action is called with the
    /// collector as the reply address; answers for which <paramref name="isAck"/> holds count as success.
    /// With <paramref name="watch"/>, a target that dies before answering counts as lost.
    /// </summary>
    public static Props Props(FanOut fanOut, IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> targets, Func<object, bool> isAck, TimeSpan timeout, bool watch = true) =>
        Akka.Actor.Props.Create(() => new ReplyCollector(fanOut, targets, isAck, timeout, watch));

    public ReplyCollector(FanOut fanOut, IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> targets, Func<object, bool> isAck, TimeSpan timeout, bool watch)
    {
        _watch = watch;
        _fanOut = fanOut;
        _isAck = isAck;
        _targets = targets;
        _timeout = timeout;
        _pending = targets.Select(t => t.Target).ToHashSet();
        Receive<Terminated>(t =>
        {
            if (_pending.Remove(t.ActorRef)) _lost.Add(t.ActorRef.Path.Name);
            CompleteIfDone();
        });
        Receive<CollectTimedOut>(_ => Report());
        ReceiveAny(m =>
        {
            if (!_pending.Remove(Sender)) return;
            (_isAck(m) ? _acks : _failures).Add(m);
            CompleteIfDone();
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        foreach (var (target, send) in _targets)
        {
            if (_watch) Context.Watch(target);
            send(Self);
        }
        Timers.StartSingleTimer("deadline", CollectTimedOut.Instance, _timeout);
        CompleteIfDone();
    }

    private void CompleteIfDone()
    {
        if (_pending.Count == 0) Report();
    }

    private void Report()
    {
        if (_reported) return;
        _reported = true;
        Context.Parent.Tell(new FanOutDone(_fanOut, new Collected(_acks, _failures, _lost, _pending.Select(p => p.Path.Name).ToList())));
        Context.Stop(Self);
    }

    private sealed record CollectTimedOut
    {
        public static readonly CollectTimedOut Instance = new();
    }
}

/// <summary>
/// What a <see cref="ReplyCollector"/> gathered: acknowledgements, refusals, targets that died, and targets
/// that did not answer before the timeout.
/// </summary>
internal sealed record Collected(IReadOnlyList<object> Acks, IReadOnlyList<object> Failures, IReadOnlyList<string> Lost, IReadOnlyList<string> Unanswered)
{
    /// <summary>True if every target acknowledged.</summary>
    public bool AllAcked => Failures.Count == 0 && Lost.Count == 0 && Unanswered.Count == 0;

    /// <summary>Why not every target acknowledged.</summary>
    public string Problem => string.Join("; ", new[]
    {
        Failures.Count > 0 ? "refused: " + string.Join(", ", Failures) : null,
        Lost.Count > 0 ? "gone: " + string.Join(", ", Lost) : null,
        Unanswered.Count > 0 ? "no answer in time: " + string.Join(", ", Unanswered) : null,
    }.Where(s => s is not null));
}
