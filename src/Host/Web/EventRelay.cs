using System.Threading.Channels;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Web;

/// <summary>
/// The subscriber of one HTTP event stream (<c>/api/v1/events</c>): passes every <see cref="VmEventNotice"/> and
/// <see cref="StreamEnded"/> it is sent into a channel the HTTP response reads. Stopping it ends the subscription
/// (the directory and the agents watch their subscribers).
/// </summary>
public sealed class EventRelay : ReceiveActor
{
    /// <summary>Props for a relay writing to <paramref name="writer"/>.</summary>
    public static Props Props(ChannelWriter<IApiMessage> writer) => Akka.Actor.Props.Create(() => new EventRelay(writer));

    /// <summary>Use <see cref="Props"/>.</summary>
    public EventRelay(ChannelWriter<IApiMessage> writer)
    {
        Receive<VmEventNotice>(n => writer.TryWrite(n));
        Receive<StreamEnded>(e => writer.TryWrite(e));
    }
}
