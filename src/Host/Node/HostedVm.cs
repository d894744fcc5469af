using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// What a node's <see cref="HypervisorAgent"/> holds of one VM it runs: the VM's cluster-facing record (its one copy on
/// the node, changed only by the agent on its <see cref="VmWatcher"/>'s reports), its VmActor (requests go to it directly), its watcher, and the
/// subscribers to the VM's events (<see cref="SubscribeVmEventsRequest"/>), which the VM's node streams itself.
/// </summary>
internal sealed class HostedVm(VmInfo record, IActorRef vm, IActorRef watcher)
{
    /// <summary>The VM as the API reports it.</summary>
    public VmInfo Record { get; set; } = record;

    /// <summary>The VmActor.</summary>
    public IActorRef Vm { get; } = vm;

    /// <summary>Follows the VM (state, console) for the agent.</summary>
    public IActorRef Watcher { get; } = watcher;

    /// <summary>Who gets a <see cref="VmEventNotice"/> on each change of the record's status.</summary>
    public HashSet<IActorRef> EventSubscribers { get; } = new();

    /// <summary>False once the VmActor has stopped (it crashed; a destroy forgets the VM instead).</summary>
    public bool ActorAlive { get; set; } = true;
}
