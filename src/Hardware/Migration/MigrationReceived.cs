using Actorvisor.Hardware.Machines;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// A migrated VM on the target, built and switched over: the machine (its owner runs and disposes it), what the
/// target counted, and by post-copy what still comes.
/// </summary>
/// <param name="Header">The source's header (the VM's name, image, layout).</param>
/// <param name="Parts">The machine, its vCPUs loaded with the source's state; not running yet.</param>
/// <param name="Rounds">Pre-copy rounds the source announced.</param>
/// <param name="PagesReceived">Page entries received (zero pages included, repeats counted each time).</param>
public sealed record MigrationReceived(MigrationHeader Header, MachineParts Parts, int Rounds, long PagesReceived)
{
    /// <summary>
    /// By post-copy, the receiver still bringing the pages memslot 0 lacks (the machine may run meanwhile: its faults
    /// fetch them); null when every page came before the go-ahead.
    /// </summary>
    public PostCopyReceiver? PostCopy { get; init; }

    /// <summary>From the state frame to the machine loaded with it and accepted by its owner (part of the pause).</summary>
    public TimeSpan Build { get; init; }

    /// <summary>System calls the target's discards of stale pages took (by post-copy).</summary>
    public long DiscardCalls { get; init; }
}
