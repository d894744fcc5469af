namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// Multi-process cluster tests run one class at a time (the machine has few cores) and share one 3-node
/// cluster; classes that break their cluster (node loss) start their own.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<LocalCluster>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "multi-process cluster";
}
