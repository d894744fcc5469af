namespace Actorvisor.Hardware.Lazy;

/// <summary>What the completion side does after <see cref="PfaultWait.PageReady"/>.</summary>
public enum PageReadyOutcome
{
    /// <summary>Wake the vCPU: it was waiting on this fault (pfault_wait was 1, now 0).</summary>
    WokeWaiter,
    /// <summary>Nothing to wake yet: remembered so the vCPU will not block (pfault_wait is now -1).</summary>
    CompletedEarly,
    /// <summary>Nothing: a leftover completion of a cancelled, completed or superseded fault.</summary>
    Ignored,
}
