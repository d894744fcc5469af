namespace Actorvisor.Host.Api.V1;

/// <summary>Asks for the cluster's members, their capacity and load. Replies <see cref="ClusterStatusReply"/>.</summary>
public sealed record ClusterStatusRequest : ApiRequest;

/// <summary>The cluster as the placement singleton sees it.</summary>
/// <param name="ClusterName">The cluster's (actor system's) name.</param>
/// <param name="Leader">The address of the cluster leader, if there is one.</param>
/// <param name="PlacementNode">The address of the node hosting the placement singleton.</param>
/// <param name="Nodes">Every member, by name.</param>
/// <param name="DirectoryChangedAt">When the directory's state last changed (UTC); a node whose
/// <see cref="NodeStatus.DirectoryCopyAt"/> is not earlier holds a copy that survives the directory's node.</param>
/// <param name="UnansweredNodes">Hypervisors that did not report their VMs within the request's deadline: their used
/// vCPUs, memory and VM count are the directory's placement figures; null or empty when every one answered.</param>
public sealed record ClusterStatusReply(string ClusterName, string? Leader, string PlacementNode, IReadOnlyList<NodeStatus> Nodes, DateTimeOffset? DirectoryChangedAt = null,
    IReadOnlyList<string>? UnansweredNodes = null) : IApiReply;

/// <summary>One cluster member.</summary>
/// <param name="Name">The node's configured name ("" for members that are not hypervisors).</param>
/// <param name="Address">Its actor system address (akka.tcp://cluster@host:port).</param>
/// <param name="Status">Membership status: Joining, Up, Leaving, Exiting, Down, Removed, WeaklyUp; "Unreachable" when the failure detector says so.</param>
/// <param name="Roles">Cluster roles ("hypervisor" for nodes that run VMs).</param>
/// <param name="Accelerator">"kvm" or "software"; null until the node has reported.</param>
/// <param name="AcceleratorDescription">What the node opened (e.g. "KVM (API 12)").</param>
/// <param name="Vcpus">vCPUs the node may hand out.</param>
/// <param name="UsedVcpus">vCPUs held by its live VMs.</param>
/// <param name="MemoryBytes">Guest RAM the node may hand out.</param>
/// <param name="UsedMemoryBytes">Guest RAM held by its live VMs.</param>
/// <param name="VmCount">VMs on the node (live or ended, not yet destroyed).</param>
/// <param name="DirectoryCopyAt">When the copy of the directory this node holds was taken (null: none yet).</param>
public sealed record NodeStatus(
    string Name, string Address, string Status, IReadOnlyList<string> Roles, string? Accelerator, string? AcceleratorDescription,
    int Vcpus, int UsedVcpus, ulong MemoryBytes, ulong UsedMemoryBytes, int VmCount, DateTimeOffset? DirectoryCopyAt = null);
