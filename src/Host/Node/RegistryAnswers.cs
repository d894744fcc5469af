using Actorvisor.Host.Api.V1;
using Actorvisor.Actors.Registry;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>The registry's answer to a create the <see cref="HypervisorAgent"/> asked for (or the ask's failure), piped back to it with whom to answer.</summary>
internal sealed record RegistryCreated(ApiVmSpec Spec, IActorRef ReplyTo, object Reply, TimeSpan Wait);

/// <summary>The registry's answer to a destroy the <see cref="HypervisorAgent"/> asked for (or the ask's failure), piped back to it with whom to answer.</summary>
internal sealed record RegistryDestroyed(string Name, IActorRef ReplyTo, object Reply, TimeSpan Wait);

/// <summary>The registry's list of VMs (null: it did not answer in time), piped back to the <see cref="HypervisorAgent"/> with how to answer from it.</summary>
internal sealed record RegistryListed(VmList? List, IActorRef ReplyTo, Func<IReadOnlyList<VmInfo>, int, ulong, object> Answer);

/// <summary>The registry's answer to a create the <see cref="HypervisorAgent"/> asked for to bring back a VM of the node's stored state.</summary>
internal sealed record RegistryRecreated(State.StoredVm Stored, State.RecoveryPlan Plan, object Reply);

/// <summary>The registry's list of VMs (null: it did not answer in time) for the managed saves of a node that stops.</summary>
internal sealed record ManagedSaveListed(VmList? List);

/// <summary>
/// The managed save of VM <paramref name="Vm"/> as <paramref name="Snapshot"/> is on disk and recorded (<paramref name="Problem"/>
/// null) or failed; <paramref name="Previous"/> is the managed save it replaces.
/// </summary>
internal sealed record ManagedSaveResult(string Vm, string Snapshot, string? Previous, string? Problem);

/// <summary>Every managed save of a node that stops has ended (<see cref="ManagedSaveResult"/> each).</summary>
internal sealed record ManagedSavesDone(IReadOnlyList<ManagedSaveResult> Results);

/// <summary>The recreated VM <paramref name="Name"/>'s answer to its start (and pause) on recovery, or the ask's failure.</summary>
internal sealed record RecoveredVmStarted(string Name, object Reply);
