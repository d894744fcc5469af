namespace Actorvisor.Actors.Vm;

/// <summary>The lifecycle of a VM: Created -> Running &lt;-> Paused -> Stopping -> Stopped, or Failed.</summary>
public enum VmState
{
    /// <summary>Built (memory, vCPU threads parked, devices); the guest has not run yet.</summary>
    Created,
    /// <summary>The vCPUs run the guest.</summary>
    Running,
    /// <summary>Every vCPU is parked outside the guest; registers can be read and written.</summary>
    Paused,
    /// <summary>Being torn down; no request is accepted.</summary>
    Stopping,
    /// <summary>Torn down after the guest ended or a stop was requested.</summary>
    Stopped,
    /// <summary>Torn down after a failure (guest fault, crashed device or vCPU thread); see the reason.</summary>
    Failed,
}

/// <summary>Helpers on <see cref="VmState"/>.</summary>
public static class VmStateExtensions
{
    /// <summary>True for Stopped and Failed: the VM has been torn down.</summary>
    public static bool IsTerminal(this VmState state) => state is VmState.Stopped or VmState.Failed;

    /// <summary>True while the VM holds its resources (every state but Stopped and Failed).</summary>
    public static bool HoldsResources(this VmState state) => !state.IsTerminal();
}
