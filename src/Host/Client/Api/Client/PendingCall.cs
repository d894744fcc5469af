using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Api.Client;

/// <summary>
/// One request of an <see cref="ApiConnection"/> in flight: the sender the cluster answers, so that the
/// connection knows which requests are still open. Passes the first reply on to the caller and stops; stops
/// unanswered when the caller's timeout has passed.
/// </summary>
internal sealed class PendingCall : ReceiveActor, IWithTimers
{
    /// <summary>Props for a call answering <paramref name="replyTo"/> within <paramref name="timeout"/>.</summary>
    public static Props Props(IActorRef replyTo, TimeSpan timeout) => Akka.Actor.Props.Create(() => new PendingCall(replyTo, timeout));

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private readonly TimeSpan _timeout;

    /// <summary>Use <see cref="Props"/>.</summary>
    public PendingCall(IActorRef replyTo, TimeSpan timeout)
    {
        _timeout = timeout;
        Receive<IApiReply>(reply =>
        {
            replyTo.Tell(reply);
            Context.Stop(Self);
        });
        Receive<Expired>(_ => Context.Stop(Self));
    }

    /// <inheritdoc />
    protected override void PreStart() => Timers.StartSingleTimer("expire", Expired.Instance, _timeout);

    private sealed record Expired
    {
        public static readonly Expired Instance = new();
    }
}
