using Akka.Actor;
using Akka.Serialization;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Bytes a misbehaving client sends under any manifest, claiming the API serializer's id.</summary>
public sealed record RoguePayload(string Manifest, byte[] Bytes);

/// <summary>Serializes <see cref="RoguePayload"/> as its raw bytes with the API serializer's id, so a node decodes them as an API message.</summary>
public sealed class RogueSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>The HOCON that binds it in a client system.</summary>
    public const string Hocon = """
        akka.actor {
          serializers.rogue = "Actorvisor.Host.Tests.Cluster.RogueSerializer, Actorvisor.Host.Tests"
          serialization-bindings { "Actorvisor.Host.Tests.Cluster.RoguePayload, Actorvisor.Host.Tests" = rogue }
          serialization-identifiers { "Actorvisor.Host.Tests.Cluster.RogueSerializer, Actorvisor.Host.Tests" = 7301 }
        }
        akka.remote.dot-netty.tcp.maximum-frame-size = 8000000b
        """;

    public override int Identifier => Actorvisor.Host.Api.V1.ApiSerializer.Id;

    public override string Manifest(object o) => ((RoguePayload)o).Manifest;

    public override byte[] ToBinary(object obj) => ((RoguePayload)obj).Bytes;

    public override object FromBinary(byte[] bytes, string manifest) => new RoguePayload(manifest, bytes);
}
