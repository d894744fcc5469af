namespace Actorvisor.Hardware.Migration;

/// <summary>
/// A live migration that did not complete: the target refused it (another accelerator, no room, a state it cannot
/// load), the stream broke, or the other side sent something that is not the migration protocol. The message says
/// which side and why. Before the go-ahead the source VM keeps running; after it (<see cref="SourceStopped"/>) the
/// source's copy stays paused for good, since the target may be running the VM.
/// </summary>
public sealed class MigrationException : Exception
{
    /// <summary>A failed migration, described by <paramref name="message"/>.</summary>
    public MigrationException(string message, Exception? inner = null, bool sourceStopped = false) : base(message, inner)
    {
        SourceStopped = sourceStopped;
    }

    /// <summary>
    /// True if the source had sent its go-ahead when it failed: its copy must not run again (two copies might run), and
    /// whether the target runs one is the message's to say.
    /// </summary>
    public bool SourceStopped { get; }
}
