using Actorvisor.Actors.Registry;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// What a node's <see cref="HypervisorAgent"/> holds of one VM it runs: the spec it was created from, its VmActor, to
/// which requests go directly (replaced when the registry restarts the VM per its restart policy, <see cref="VmRestarted"/>),
/// its console <see cref="VmWatcher"/> (which follows the new VmActor then) and the
/// subscribers to the VM's events (<see cref="SubscribeVmEventsRequest"/>), which the VM's node streams itself. Its
/// state is not here: the node's VmRegistryActor is its only keeper, and reports each change to the agent.
/// </summary>
internal sealed class HostedVm(ApiVmSpec spec, IActorRef vm, IActorRef watcher)
{
    /// <summary>What the VM was created from (name, vCPUs, memory, image).</summary>
    public ApiVmSpec Spec { get; } = spec;

    /// <summary>The VmActor (a new one after each restart).</summary>
    public IActorRef Vm { get; set; } = vm;

    /// <summary>Keeps the VM's console for its subscribers, across restarts.</summary>
    public IActorRef Watcher { get; } = watcher;

    /// <summary>The restart policy of <see cref="Spec"/> (validated by the API: an unknown name never gets here).</summary>
    public VmRestartPolicy Policy => VmRestartPolicies.TryParse(Spec.Restart, out var policy) ? policy : VmRestartPolicy.Never;

    /// <summary>Who gets a <see cref="VmEventNotice"/> on each change of the VM's status.</summary>
    public HashSet<IActorRef> EventSubscribers { get; } = new();

    /// <summary>Subscriptions waiting for the registry's current line of the VM (subscriber, who asked).</summary>
    public List<(IActorRef Subscriber, IActorRef ReplyTo)> PendingSubscriptions { get; } = new();

    /// <summary>The snapshot its node restores it from when it starts again (its managed save, recorded in the node's database), or null.</summary>
    public string? ManagedSave { get; set; }

    /// <summary>Its latest live migration from this node, as reported to its subscribers (null: none yet).</summary>
    public MigrationInfo? Migration { get; set; }

    /// <summary>The agent of the node its latest migration goes to.</summary>
    public IActorRef? MigrationTarget { get; set; }

    /// <summary>True once it switched over to another node: its copy here is ending, and is then forgotten.</summary>
    public bool MigratedAway { get; set; }

    /// <summary>Its migration's completion, held until the directory has located it on the target and its copy here ended (then reported).</summary>
    public MigrationInfo? Completion { get; set; }

    /// <summary>True once the directory located it on its migration's target.</summary>
    public bool ArrivalRecorded { get; set; }

    /// <summary>Its console subscribers and backlog once its copy here ended, held until the completion is reported.</summary>
    public object? PendingHandOff { get; set; }

    /// <summary>True once its migration ended everywhere and the registry was asked to free its name here (the last step before it is reported completed and forgotten).</summary>
    public bool SourceCopyDestroying { get; set; }

    /// <summary>False once the VmActor has stopped (it crashed; a destroy forgets the VM instead).</summary>
    public bool ActorAlive { get; set; } = true;

    /// <summary>The VM as the API reports it on node <paramref name="node"/>, in <paramref name="status"/> (with its restart count and start time, where known).</summary>
    public VmInfo Info(string node, VmStatus status, string? outcome, int? restarts = null, DateTimeOffset? startedAt = null, long? exits = null) =>
        new(Spec.Name, node, status, Spec.Vcpus, Spec.MemoryBytes, Spec.Image, outcome, restarts, startedAt, exits);
}
