using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

// Messages between the hypervisor agents (/user/hypervisor on every node) and the VM directory singleton.
// API requests themselves travel as API messages (the directory forwards them to the VM's agent).

/// <summary>A message between Actorvisor nodes; bound to <see cref="ClusterProtocolSerializer"/>.</summary>
public interface IClusterProtocolMessage;

/// <summary>What a hypervisor node offers: published to the directory when it starts and whenever asked.</summary>
/// <param name="Name">The node's configured name (unique in the cluster).</param>
/// <param name="Address">Its actor system address.</param>
/// <param name="Accelerator">"kvm" or "software".</param>
/// <param name="AcceleratorDescription">What was opened, e.g. "KVM (API 12)".</param>
/// <param name="Vcpus">vCPUs it may hand out.</param>
/// <param name="MemoryBytes">Guest RAM it may hand out.</param>
public sealed record NodeInfo(string Name, string Address, string Accelerator, string AcceleratorDescription, int Vcpus, ulong MemoryBytes) : IClusterProtocolMessage;

/// <summary>An agent tells the directory who it is and every VM it holds (replacing what the directory knew of it).</summary>
public sealed record NodeAnnouncement(NodeInfo Node, IActorRef Agent, IReadOnlyList<VmInfo> Vms) : IClusterProtocolMessage;

/// <summary>The directory asks an agent for a <see cref="NodeAnnouncement"/> (after the singleton moved, or a node joined).</summary>
public sealed record AnnounceNode : IClusterProtocolMessage
{
    /// <summary>The one instance.</summary>
    public static readonly AnnounceNode Instance = new();
}

/// <summary>A VM's state changed on its node.</summary>
public sealed record VmRecordChanged(VmInfo Vm) : IClusterProtocolMessage;

/// <summary>The directory asks the chosen agent to build a VM. Answered with <see cref="CreateOnNodeResult"/>.</summary>
public sealed record CreateOnNode(VmSpecification Spec) : IClusterProtocolMessage;

/// <summary>The agent's answer to <see cref="CreateOnNode"/>: the created VM, or why it failed.</summary>
public sealed record CreateOnNodeResult(string Name, VmInfo? Vm, ApiErrorReply? Error) : IClusterProtocolMessage;

/// <summary>The directory asks an agent to destroy a VM. Answered with <see cref="DestroyOnNodeResult"/>.</summary>
public sealed record DestroyOnNode(string Name) : IClusterProtocolMessage;

/// <summary>The agent's answer to <see cref="DestroyOnNode"/>: the VM as it ended, or why it failed.</summary>
public sealed record DestroyOnNodeResult(string Name, VmInfo? Vm, ApiErrorReply? Error) : IClusterProtocolMessage;
