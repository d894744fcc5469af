namespace Actorvisor.Hardware.Migration;

/// <summary>
/// A live migration that did not complete: the target refused it (another accelerator, no room, a state it cannot
/// load), the stream broke, or the other side sent something that is not the migration protocol. The message says
/// which side and why. Before switchover the source VM keeps running.
/// </summary>
public sealed class MigrationException : Exception
{
    /// <summary>A failed migration, described by <paramref name="message"/>.</summary>
    public MigrationException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
