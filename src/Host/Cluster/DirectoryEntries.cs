using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>What the <see cref="VmDirectory"/> keeps of one hypervisor node: its announced description, address and agent.</summary>
internal sealed record DirectoryNode(NodeInfo Info, Address Address, IActorRef Agent);

/// <summary>
/// What the <see cref="VmDirectory"/> keeps of one VM: its <see cref="VmLocation"/> and its node's address. Immutable:
/// a change replaces the entry through <see cref="DirectoryTable"/>, which keeps its counts and change log with it.
/// </summary>
internal sealed record DirectoryVm(VmLocation Location, Address Address);
