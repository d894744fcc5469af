namespace Actorvisor.Hardware.Lazy;

/// <summary>What the caller does after <see cref="PfaultWait.Cancel"/>.</summary>
public enum CancelOutcome
{
    /// <summary>Wake the vCPU: it was waiting on the cancelled fault.</summary>
    ReleaseWaiter,
    /// <summary>Nothing: the fault's completion had arrived early and is now dropped.</summary>
    DiscardedEarlyCompletion,
    /// <summary>Nothing now: the fault's completion is still to come and will be ignored.</summary>
    Cancelled,
    /// <summary>Nothing: the fault had already completed or a newer fault superseded it.</summary>
    NothingToCancel,
}
