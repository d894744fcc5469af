using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// One request sent to several children whose answers a <see cref="ReplyCollector"/> gathers: owns the
/// continuation that the state which started it runs with the <see cref="Collected"/> answers. The VmActor
/// completes it when the collector's <see cref="FanOutDone"/> arrives; a state that is left first cancels it.
/// </summary>
internal sealed class FanOut
{
    private Action<Collected>? _then;

    private FanOut(Action<Collected> then) => _then = then;

    /// <summary>
    /// Sends to <paramref name="targets"/> through a new collector child of <paramref name="context"/>; runs
    /// <paramref name="then"/> on the actor once every target answered (<paramref name="isAck"/> tells success),
    /// died (with <paramref name="watch"/>) or <paramref name="timeout"/> passed.
    /// </summary>
    public static FanOut Start(IActorContext context, IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> targets, Func<object, bool> isAck,
        TimeSpan timeout, Action<Collected> then, bool watch = true)
    {
        var fanOut = new FanOut(then);
        context.ActorOf(ReplyCollector.Props(fanOut, targets, isAck, timeout, watch));
        return fanOut;
    }

    /// <summary>Sends <paramref name="request"/> to each of <paramref name="targets"/>, the collector as reply address.</summary>
    public static IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> Tell(IEnumerable<IActorRef> targets, object request) =>
        targets.Select(t => (t, (Action<IActorRef>)(replyTo => t.Tell(request, replyTo)))).ToList();

    /// <summary>Drops the continuation: the state that started the fan-out has ended it otherwise.</summary>
    public void Cancel() => _then = null;

    /// <summary>Runs the continuation once (on the actor that started the fan-out), unless cancelled.</summary>
    public void Complete(Collected answers)
    {
        var then = _then;
        _then = null;
        then?.Invoke(answers);
    }
}

/// <summary>A <see cref="ReplyCollector"/> gathered the <paramref name="Answers"/> of <paramref name="FanOut"/> (to the VmActor).</summary>
internal sealed record FanOutDone(FanOut FanOut, Collected Answers);
