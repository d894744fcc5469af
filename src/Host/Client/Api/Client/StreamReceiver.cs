using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Api.Client;

/// <summary>The client's actor a stream subscription names: hands every stream message to a callback, in order.</summary>
internal sealed class StreamReceiver : ReceiveActor
{
    public static Props Props(Action<IApiMessage> onMessage) => Akka.Actor.Props.Create(() => new StreamReceiver(onMessage));

    public StreamReceiver(Action<IApiMessage> onMessage)
    {
        Receive<IApiMessage>(onMessage);
    }
}
