namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Where a scenario node runs.</summary>
public enum NodeKind
{
    /// <summary>An actor runtime inside the runner's own process (one VmRegistryActor).</summary>
    InProcess,
    /// <summary>A node of a local multi-process cluster (the cluster daemon; not available yet).</summary>
    Cluster,
}
