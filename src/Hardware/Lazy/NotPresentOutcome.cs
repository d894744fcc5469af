namespace Actorvisor.Hardware.Lazy;

/// <summary>What the vCPU side does after <see cref="PfaultWait.NotPresent"/>.</summary>
public enum NotPresentOutcome
{
    /// <summary>Wait: the completion has not arrived (pfault_wait is now 1).</summary>
    Block,
    /// <summary>Do not wait: the completion arrived first (pfault_wait was -1, now 0).</summary>
    AlreadyCompleted,
}
