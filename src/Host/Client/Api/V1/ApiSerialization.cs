namespace Actorvisor.Host.Api.V1;

/// <summary>The HOCON that binds the API messages to <see cref="ApiSerializer"/>; every node and client loads it.</summary>
public static class ApiSerialization
{
    /// <summary>
    /// Serializer binding for <see cref="IApiMessage"/>, unbatched writes, and a remote frame size that fits the largest reply
    /// (<see cref="ApiSerializer.MaxReplyBytes"/> plus the envelope).
    /// </summary>
    public const string Hocon = """
        akka.actor {
          serializers.actorvisor-api-v1 = "Actorvisor.Host.Api.V1.ApiSerializer, Actorvisor.Client"
          serialization-bindings {
            "Actorvisor.Host.Api.V1.IApiMessage, Actorvisor.Client" = actorvisor-api-v1
          }
          serialization-identifiers {
            "Actorvisor.Host.Api.V1.ApiSerializer, Actorvisor.Client" = 7301
          }
        }
        # Requests are small and sequential: DotNetty's write batching would hold each one back until its
        # flush interval; flush every write instead.
        akka.remote.dot-netty.tcp.batching.enabled = false
        akka.remote.dot-netty.tcp.maximum-frame-size = 4400000b
        akka.remote.dot-netty.tcp.send-buffer-size = 4400000b
        akka.remote.dot-netty.tcp.receive-buffer-size = 4400000b
        """;
}
