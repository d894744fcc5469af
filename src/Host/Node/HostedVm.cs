using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// What a node's <see cref="HypervisorAgent"/> holds of one VM it runs: the VM's cluster-facing record (changed only
/// by its <see cref="VmWatcher"/>'s reports), its VmActor (requests go to it directly) and its watcher.
/// </summary>
internal sealed class HostedVm(VmInfo record, IActorRef vm, IActorRef watcher)
{
    /// <summary>The VM as the API reports it.</summary>
    public VmInfo Record { get; set; } = record;

    /// <summary>The VmActor.</summary>
    public IActorRef Vm { get; } = vm;

    /// <summary>Follows the VM (state, console) for the agent.</summary>
    public IActorRef Watcher { get; } = watcher;

    /// <summary>False once the VmActor has stopped (it crashed; a destroy forgets the VM instead).</summary>
    public bool ActorAlive { get; set; } = true;
}
