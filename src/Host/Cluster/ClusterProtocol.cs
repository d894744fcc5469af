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
/// The directory's whole state, so that it survives the node hosting the singleton: every VM with its node's address,
/// and the event subscriptions. Sent to an agent that holds no copy of this directory's yet (or fell behind); the others
/// get only the changes (<see cref="DirectorySnapshotDelta"/>). Agents hand it back in their announcements.
/// </summary>
/// <param name="Taken">When the directory took it (UTC): a new directory keeps the newest it is offered.</param>
/// <param name="Vms">Every VM and where it is.</param>
/// <param name="Subscriptions">Every event subscription.</param>
/// <param name="Sequence">The number of the directory's copy it is (the next delta is one more).</param>
/// <param name="Epoch">Which directory (one per start of the singleton) took it; deltas apply only to a copy of the same.</param>
public sealed record DirectorySnapshot(DateTimeOffset Taken, IReadOnlyList<VmLocation> Vms, IReadOnlyList<EventSubscription> Subscriptions,
    long Sequence = 0, string? Epoch = null) : IClusterProtocolMessage;

/// <summary>
/// What changed in the directory since its copy <paramref name="Sequence"/> - 1 (of directory <paramref name="Epoch"/>):
/// an agent holding that copy applies it; one that does not answers <see cref="SnapshotStored"/> with NeedsWhole.
/// </summary>
/// <param name="Epoch">The directory that took it (as <see cref="DirectorySnapshot.Epoch"/>).</param>
/// <param name="Sequence">The number of the copy it makes.</param>
/// <param name="Taken">When the directory took it (UTC).</param>
/// <param name="Changed">The VMs added or changed since, as they are now.</param>
/// <param name="Removed">The names of the VMs removed since.</param>
/// <param name="Subscriptions">Every event subscription, if they changed since; null if not.</param>
public sealed record DirectorySnapshotDelta(string Epoch, long Sequence, DateTimeOffset Taken, IReadOnlyList<VmLocation> Changed, IReadOnlyList<string> Removed,
    IReadOnlyList<EventSubscription>? Subscriptions) : IClusterProtocolMessage;

/// <summary>
/// An agent holds the directory's copy taken at <paramref name="Taken"/> (number <paramref name="Sequence"/>); with
/// <paramref name="NeedsWhole"/>, it could not apply that delta (it holds no copy it follows) and needs the whole state.
/// </summary>
public sealed record SnapshotStored(DateTimeOffset Taken, long Sequence = 0, bool NeedsWhole = false) : IClusterProtocolMessage;

/// <summary>
/// What the directory keeps of one VM, all it needs to place and find VMs: VM <paramref name="Name"/> is on node
/// <paramref name="Node"/> at <paramref name="NodeAddress"/>, created with <paramref name="Vcpus"/>, <paramref name="MemoryBytes"/>
/// and <paramref name="Image"/>, holding them while <paramref name="HoldsResources"/>. Its state is its node's: the
/// directory's own <paramref name="Marker"/> is <see cref="VmStatus.Creating"/> (placed, being built) or
/// <see cref="VmStatus.Lost"/> (its node is gone; <paramref name="Outcome"/> says how), null otherwise.
/// </summary>
public sealed record VmLocation(string Name, string Node, string NodeAddress, int Vcpus, ulong MemoryBytes, string Image, bool HoldsResources,
    VmStatus? Marker = null, string? Outcome = null)
{
    /// <summary>The line of a VM the directory reports itself (Creating or Lost).</summary>
    public VmInfo MarkedInfo() => new(Name, Node, Marker ?? VmStatus.Lost, Vcpus, MemoryBytes, Image, Outcome);

    /// <summary>Where <paramref name="vm"/>, as its node reported it, is.</summary>
    public static VmLocation Of(VmInfo vm, string nodeAddress) =>
        new(vm.Name, vm.Node, nodeAddress, vm.Vcpus, vm.MemoryBytes, vm.Image, Holds(vm.Status));

    /// <summary>True while a VM in <paramref name="status"/> holds its vCPUs and memory on its node.</summary>
    public static bool Holds(VmStatus status) =>
        status is VmStatus.Creating or VmStatus.Created or VmStatus.Running or VmStatus.Paused or VmStatus.Stopping;
}

/// <summary>
/// <paramref name="Subscriber"/> receives the events of VM <paramref name="Vm"/> (of every VM when null); with
/// <paramref name="LossOnly"/> it gets only the VM's loss from the directory (its node streams the rest).
/// </summary>
public sealed record EventSubscription(string? Vm, IActorRef Subscriber, bool LossOnly = false);

/// <summary>The directory has applied a <see cref="NodeAnnouncement"/> (a leaving node waits for this before it leaves).</summary>
public sealed record AnnouncementAccepted(string Node) : IClusterProtocolMessage;

/// <summary>The directory asks an agent for a <see cref="NodeAnnouncement"/> (after the singleton moved, or a node joined).</summary>
public sealed record AnnounceNode : IClusterProtocolMessage
{
    /// <summary>The one instance.</summary>
    public static readonly AnnounceNode Instance = new();
}

/// <summary>
/// A VM's line changed on its node (from <paramref name="Before"/>): the directory updates what placement needs and
/// relays it to the subscribers of every VM's events.
/// </summary>
public sealed record VmRecordChanged(VmInfo Vm, VmStatus? Before = null) : IClusterProtocolMessage;

/// <summary>
/// The directory asks an agent for its VMs and what they hold (for `vm list` and `cluster status`), within
/// <paramref name="DeadlineMs"/> milliseconds. Answered with <see cref="NodeVmsReport"/>.
/// </summary>
public sealed record ReportNodeVms(int DeadlineMs) : IClusterProtocolMessage;

/// <summary>
/// The directory asks an agent whether its snapshot directories hold snapshot <paramref name="Snapshot"/> (to place a
/// restore that names no node: snapshot directories are per node). Answered with <see cref="SnapshotHeld"/>.
/// </summary>
public sealed record FindSnapshot(string Snapshot) : IClusterProtocolMessage;

/// <summary>Node <paramref name="Node"/> holds snapshot <paramref name="Snapshot"/> (<paramref name="Held"/>) and can restore it.</summary>
public sealed record SnapshotHeld(string Node, string Snapshot, bool Held) : IClusterProtocolMessage;

/// <summary>Node <paramref name="Node"/>'s VMs, as its registry has them, and the vCPUs and memory its live VMs hold.</summary>
public sealed record NodeVmsReport(string Node, IReadOnlyList<VmInfo> Vms, int UsedVcpus, ulong UsedMemoryBytes) : IClusterProtocolMessage;

/// <summary>
/// A gateway sent <paramref name="Subscriber"/>'s subscription to VM <paramref name="Vm"/>'s events to its node at
/// <paramref name="NodeAddress"/>: the directory tells the subscriber if that node is lost (the node cannot, and the
/// gateway's own node may be the one lost).
/// </summary>
public sealed record FollowVmLoss(string Vm, IActorRef Subscriber, string NodeAddress) : IClusterProtocolMessage;

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
