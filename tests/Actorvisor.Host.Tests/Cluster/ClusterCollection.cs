namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Multi-process cluster tests run one class at a time: each class starts its own 3 nodes, and the machine has few cores.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "multi-process cluster";
}
