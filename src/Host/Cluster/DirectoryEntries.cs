using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>What the <see cref="VmDirectory"/> keeps of one hypervisor node: its announced description, address and agent.</summary>
internal sealed record DirectoryNode(NodeInfo Info, Address Address, IActorRef Agent);

/// <summary>What the <see cref="VmDirectory"/> keeps of one VM: its <see cref="VmLocation"/> (replaced as it changes) and its node's address.</summary>
internal sealed class DirectoryVm(VmLocation location, Address address)
{
    /// <summary>Where the VM is and what placement needs of it, with the directory's own Creating / Lost markers.</summary>
    public VmLocation Location { get; set; } = location;

    /// <summary>The address of the node that runs it.</summary>
    public Address Address { get; } = address;

    /// <summary>Records whether the VM holds its resources (all placement needs of its status); returns whether that changed.</summary>
    public bool SetHoldsResources(bool holds)
    {
        if (holds == Location.HoldsResources) return false;
        Location = Location with { HoldsResources = holds };
        return true;
    }
}
