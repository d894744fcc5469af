using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

// Messages between the hypervisor agents (/user/hypervisor on every node) and the VM directory singleton.
// API requests themselves travel as API messages: a request for an existing VM goes from the API gateway of the
// node that received it straight to the VM's agent (found in the directory's snapshot), or through the directory
// when the snapshot does not know the VM yet.

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

/// <summary>
/// An agent tells the directory who it is and every VM it holds (replacing what the directory knew of it),
/// with the last <see cref="DirectorySnapshot"/> it received, from which a new directory recovers what only
/// the old one knew (VMs of nodes that are gone, subscribers).
/// </summary>
public sealed record NodeAnnouncement(NodeInfo Node, IActorRef Agent, IReadOnlyList<VmInfo> Vms, DirectorySnapshot? Snapshot = null) : IClusterProtocolMessage;

/// <summary>
/// The directory's state, copied to every agent shortly after each change, so that it survives the node
/// hosting the singleton: every VM with its node's address, and the event subscriptions.
/// </summary>
/// <param name="Taken">When the directory took it (UTC): a new directory keeps the newest it is offered.</param>
/// <param name="Vms">Every VM and where it is.</param>
/// <param name="Subscriptions">Every event subscription.</param>
public sealed record DirectorySnapshot(DateTimeOffset Taken, IReadOnlyList<VmLocation> Vms, IReadOnlyList<EventSubscription> Subscriptions) : IClusterProtocolMessage;

/// <summary>An agent holds the snapshot taken at <paramref name="Taken"/>.</summary>
public sealed record SnapshotStored(DateTimeOffset Taken) : IClusterProtocolMessage;

/// <summary>VM <paramref name="Vm"/> is on the node at <paramref name="NodeAddress"/>.</summary>
public sealed record VmLocation(VmInfo Vm, string NodeAddress);

/// <summary><paramref name="Subscriber"/> receives the events of VM <paramref name="Vm"/> (of every VM when null).</summary>
public sealed record EventSubscription(string? Vm, IActorRef Subscriber);

/// <summary>The directory has applied a <see cref="NodeAnnouncement"/> (a leaving node waits for this before it leaves).</summary>
public sealed record AnnouncementAccepted(string Node) : IClusterProtocolMessage;

/// <summary>The directory asks an agent for a <see cref="NodeAnnouncement"/> (after the singleton moved, or a node joined).</summary>
public sealed record AnnounceNode : IClusterProtocolMessage
{
    /// <summary>The one instance.</summary>
    public static readonly AnnounceNode Instance = new();
}

/// <summary>A VM's state changed on its node.</summary>
public sealed record VmRecordChanged(VmInfo Vm) : IClusterProtocolMessage;

/// <summary>
/// The directory asks the chosen agent to build a VM, within <paramref name="DeadlineMs"/> milliseconds (the agent
/// gives up a little sooner, see <see cref="RequestDeadline"/>). Answered with <see cref="CreateOnNodeResult"/>.
/// </summary>
public sealed record CreateOnNode(ApiVmSpec Spec, int DeadlineMs) : IClusterProtocolMessage;

/// <summary>The agent's answer to <see cref="CreateOnNode"/>: the created VM, or why it failed.</summary>
public sealed record CreateOnNodeResult(string Name, VmInfo? Vm, ApiErrorReply? Error) : IClusterProtocolMessage;

/// <summary>
/// The directory asks an agent to destroy a VM, within <paramref name="DeadlineMs"/> milliseconds. Answered with
/// <see cref="DestroyOnNodeResult"/>.
/// </summary>
public sealed record DestroyOnNode(string Name, int DeadlineMs) : IClusterProtocolMessage;

/// <summary>The agent's answer to <see cref="DestroyOnNode"/>: the VM as it ended, or why it failed.</summary>
public sealed record DestroyOnNodeResult(string Name, VmInfo? Vm, ApiErrorReply? Error) : IClusterProtocolMessage;
