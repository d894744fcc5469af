namespace Actorvisor.Actors.Registry;

/// <summary>What one node may hand out to its VMs in total.</summary>
/// <param name="Vcpus">vCPUs across all live VMs.</param>
/// <param name="MemoryBytes">Guest RAM across all live VMs.</param>
public sealed record NodeCapacity(int Vcpus, ulong MemoryBytes)
{
    /// <summary>The host's logical CPUs times <paramref name="vcpusPerCpu"/>, and <paramref name="memoryBytes"/>.</summary>
    public static NodeCapacity OfHost(ulong memoryBytes, int vcpusPerCpu = 4) => new(Environment.ProcessorCount * vcpusPerCpu, memoryBytes);
}
