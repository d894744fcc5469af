namespace Actorvisor.Host.Cluster;

/// <summary>The HOCON that binds the node-to-node protocol to <see cref="ClusterProtocolSerializer"/>.</summary>
public static class ClusterSerialization
{
    /// <summary>Serializer binding for <see cref="IClusterProtocolMessage"/>.</summary>
    public const string Hocon = """
        akka.actor {
          serializers.actorvisor-cluster-v1 = "Actorvisor.Host.Cluster.ClusterProtocolSerializer, actorvisor"
          serialization-bindings {
            "Actorvisor.Host.Cluster.IClusterProtocolMessage, actorvisor" = actorvisor-cluster-v1
          }
          serialization-identifiers {
            "Actorvisor.Host.Cluster.ClusterProtocolSerializer, actorvisor" = 7302
          }
        }
        """;
}
