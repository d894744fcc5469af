using Actorvisor.Actors.Vm;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// The VM states a scenario can expect: the actor runtime's lifecycle (<see cref="VmState"/>, same values), plus what only a
/// scenario sees of a VM: destroyed (its name free again) and lost with its cluster node.
/// </summary>
public enum VmStateName
{
    /// <summary>Built; the guest has not run yet.</summary>
    Created = (int)VmState.Created,
    /// <summary>The vCPUs run the guest.</summary>
    Running = (int)VmState.Running,
    /// <summary>Every vCPU is parked.</summary>
    Paused = (int)VmState.Paused,
    /// <summary>Being torn down.</summary>
    Stopping = (int)VmState.Stopping,
    /// <summary>Torn down after the guest ended or a stop was requested.</summary>
    Stopped = (int)VmState.Stopped,
    /// <summary>Torn down after a failure.</summary>
    Failed = (int)VmState.Failed,
    /// <summary>Destroyed: removed from its node (the name is free again).</summary>
    Destroyed = (int)VmState.Failed + 1,
    /// <summary>Its cluster node was lost (killed, or cut off and downed): the VM is gone with it.</summary>
    Lost = (int)VmState.Failed + 2,
}
