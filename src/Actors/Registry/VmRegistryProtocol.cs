using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Actors.Registry;

// Messages handled by VmRegistryActor (kvm_lock / vm_list). Replies go to the sender: a success record or
// NodeRequestFailed with a typed VmRegistryError.

/// <summary>
/// Creates a VM after checking its name and the node's capacity. Replies <see cref="VmCreated"/> once the VM
/// is built (state Created), or <see cref="NodeRequestFailed"/>. <paramref name="Restart"/> says whether the registry
/// restarts it when it ends on its own; <paramref name="Restarts"/> is the count it starts from (a VM a node recreates
/// from its stored state keeps its count).
/// </summary>
public sealed record CreateVm(VmActorSpec Spec, VmRestartPolicy Restart = VmRestartPolicy.Never, int Restarts = 0);

/// <summary>Lists the VMs. Replies <see cref="VmList"/>.</summary>
public sealed record ListVms
{
    /// <summary>The one instance.</summary>
    public static readonly ListVms Instance = new();
}

/// <summary>
/// Asks for VM <paramref name="Name"/>'s registry line. Replies <see cref="VmSummary"/> (from the registry itself, so it
/// comes in order with the registry's <see cref="VmRegistryEntryChanged"/> reports), or <see cref="NodeRequestFailed"/>.
/// </summary>
public sealed record GetVmSummary(string Name);

/// <summary>Describes VM <paramref name="Name"/>. The VM replies with a <see cref="VmDescription"/>; or <see cref="NodeRequestFailed"/>.</summary>
public sealed record DescribeVm(string Name);

/// <summary>
/// Tears VM <paramref name="Name"/> down (if it still runs), removes it and frees its name. Replies
/// <see cref="VmDestroyed"/> or <see cref="NodeRequestFailed"/>.
/// </summary>
public sealed record DestroyVm(string Name);

/// <summary>
/// A stop of VM <paramref name="Name"/> was asked for (it goes to the VmActor itself): its restart policy no longer
/// applies. A restart already scheduled is cancelled, and a VM being rebuilt is stopped once built. Not answered.
/// </summary>
public sealed record HoldRestarts(string Name);

/// <summary>Asks how much of the node's capacity is in use. Replies <see cref="NodeUsage"/>.</summary>
public sealed record GetNodeUsage
{
    /// <summary>The one instance.</summary>
    public static readonly GetNodeUsage Instance = new();
}

/// <summary>Refuses new VMs and destroys every VM. Replies <see cref="NodeShutDown"/> once all are gone.</summary>
public sealed record ShutdownNode
{
    /// <summary>The one instance.</summary>
    public static readonly ShutdownNode Instance = new();
}

/// <summary>VM <paramref name="Name"/> is built (state Created); <paramref name="Vm"/> is its actor.</summary>
public sealed record VmCreated(string Name, IActorRef Vm);

/// <summary>The node's VMs.</summary>
public sealed record VmList(IReadOnlyList<VmSummary> Vms);

/// <summary>
/// One line of <see cref="VmList"/>; <paramref name="Restarts"/> counts the restarts its restart policy made,
/// <paramref name="StartedAt"/> is when the VM first ran (UTC; null before it started).
/// </summary>
public sealed record VmSummary(string Name, VmState State, int VcpuCount, ulong MemoryBytes, VmOutcome? Outcome, int Restarts = 0, DateTimeOffset? StartedAt = null);

/// <summary>
/// Sent by the registry to its follower when it has rebuilt VM <paramref name="Name"/> per its restart policy:
/// <paramref name="Vm"/> is the new VmActor (the old one is stopped; requests go to this one from now on),
/// <paramref name="Restarts"/> the VM's restart count. The registry then starts it.
/// </summary>
public sealed record VmRestarted(string Name, IActorRef Vm, int Restarts);

/// <summary>
/// Sent by the registry to its follower (see <see cref="VmRegistryActor.Props"/>) whenever a VM's line changes (its state,
/// or its outcome once it ended): <paramref name="From"/> is the state before.
/// </summary>
public sealed record VmRegistryEntryChanged(VmSummary Vm, VmState From);

/// <summary>VM <paramref name="Name"/> was torn down (<paramref name="Outcome"/>) and removed.</summary>
public sealed record VmDestroyed(string Name, VmOutcome Outcome);

/// <summary>Capacity and what live VMs use of it.</summary>
public sealed record NodeUsage(NodeCapacity Capacity, int UsedVcpus, ulong UsedMemoryBytes, int VmCount);

/// <summary>Every VM was destroyed (<paramref name="VmsDestroyed"/> of them).</summary>
public sealed record NodeShutDown(int VmsDestroyed);

/// <summary>A node request was refused.</summary>
public sealed record NodeRequestFailed(VmRegistryError Error);
