using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// What the <see cref="VmDirectory"/> counts of one node's VMs, kept up to date as each entry changes (so placement
/// and `cluster status` read a node's load without going over every VM): the vCPUs and memory its VMs hold (those
/// being created and those its node last reported holding them; not Lost ones) and how many VMs it has, Lost included.
/// Owned by <see cref="DirectoryTable"/>.
/// </summary>
internal sealed class DirectoryNodeTotals
{
    /// <summary>vCPUs held by the node's VMs.</summary>
    public int HeldVcpus { get; private set; }

    /// <summary>Guest RAM held by the node's VMs.</summary>
    public ulong HeldMemoryBytes { get; private set; }

    /// <summary>The node's VMs the directory knows, Lost ones included.</summary>
    public int Vms { get; private set; }

    /// <summary>Counts <paramref name="vm"/> in (<paramref name="sign"/> +1) or out (-1).</summary>
    public void Count(VmLocation vm, int sign)
    {
        Vms += sign;
        if (!Holds(vm)) return;
        HeldVcpus += sign * vm.Vcpus;
        HeldMemoryBytes = sign > 0 ? HeldMemoryBytes + vm.MemoryBytes : HeldMemoryBytes - vm.MemoryBytes;
    }

    /// <summary>Whether the directory counts <paramref name="vm"/> as holding its resources on its node.</summary>
    public static bool Holds(VmLocation vm) => vm.Marker != VmStatus.Lost && vm.HoldsResources;
}
