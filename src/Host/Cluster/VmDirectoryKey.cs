namespace Actorvisor.Host.Cluster;

/// <summary>The actor registry key of the VM directory singleton's proxy.</summary>
public sealed class VmDirectoryKey;
