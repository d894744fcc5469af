namespace Actorvisor.Host.Node.State;

/// <summary>
/// What a VM's owner last asked of it (its lifecycle intent), kept by the node in its state database: the node brings
/// the VM back to it after a restart, as its restart policy allows. A VM that ends on its own and is not restarted
/// by its policy is recorded <see cref="Stopped"/> too (the guest asked for it).
/// </summary>
public enum VmIntent
{
    /// <summary>Defined but not running: created and not started, stopped, or ended for good.</summary>
    Stopped = 0,

    /// <summary>Started (or resumed).</summary>
    Running = 1,

    /// <summary>Paused.</summary>
    Paused = 2,
}
