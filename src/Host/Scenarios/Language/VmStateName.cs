namespace Actorvisor.Host.Scenarios.Language;

/// <summary>The VM states a scenario can expect (the actor runtime's lifecycle).</summary>
public enum VmStateName
{
    /// <summary>Built; the guest has not run yet.</summary>
    Created,
    /// <summary>The vCPUs run the guest.</summary>
    Running,
    /// <summary>Every vCPU is parked.</summary>
    Paused,
    /// <summary>Being torn down.</summary>
    Stopping,
    /// <summary>Torn down after the guest ended or a stop was requested.</summary>
    Stopped,
    /// <summary>Torn down after a failure.</summary>
    Failed,
    /// <summary>Destroyed: removed from its node (the name is free again).</summary>
    Destroyed,
    /// <summary>Its cluster node was lost (killed, or cut off and downed): the VM is gone with it.</summary>
    Lost,
}
