namespace Actorvisor.Host.Cluster;

/// <summary>A hypervisor's capacity and what its VMs hold of it, as placement weighs it.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="Address">Its address.</param>
/// <param name="Vcpus">vCPUs it may hand out.</param>
/// <param name="UsedVcpus">vCPUs its live VMs (and VMs being created) hold.</param>
/// <param name="MemoryBytes">Guest RAM it may hand out.</param>
/// <param name="UsedMemoryBytes">Guest RAM its live VMs (and VMs being created) hold.</param>
public sealed record NodeLoad(string Name, string Address, int Vcpus, int UsedVcpus, ulong MemoryBytes, ulong UsedMemoryBytes)
{
    /// <summary>vCPUs left.</summary>
    public int FreeVcpus => Math.Max(0, Vcpus - UsedVcpus);

    /// <summary>Guest RAM left.</summary>
    public ulong FreeMemoryBytes => MemoryBytes - Math.Min(MemoryBytes, UsedMemoryBytes);

    /// <summary>True if a VM of <paramref name="vcpus"/> and <paramref name="memoryBytes"/> fits in what is left.</summary>
    public bool Fits(int vcpus, ulong memoryBytes) => vcpus <= FreeVcpus && memoryBytes <= FreeMemoryBytes;

    /// <summary>"n1 (2 vCPUs, 96 MiB free)".</summary>
    public string DescribeFree() => $"{Name} ({FreeVcpus} vCPUs, {FreeMemoryBytes >> 20} MiB free)";
}
