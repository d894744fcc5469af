namespace Actorvisor.Host.Cluster;

/// <summary>Cluster roles Actorvisor uses.</summary>
public static class NodeRoles
{
    /// <summary>A node that runs VMs (every `actorvisor node`).</summary>
    public const string Hypervisor = "hypervisor";
}
