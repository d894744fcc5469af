namespace Actorvisor.Host.Cli;

/// <summary>The exit codes of the `actorvisor` command, as documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Success (or a guest that halted without writing a result code).</summary>
    public const int Ok = 0;
    /// <summary>`actorvisor node`: the node's state database cannot be used (not SQLite, an unknown schema, unreadable); the node did not start.</summary>
    public const int StateDamaged = 3;
    /// <summary>Bad arguments, an invalid spec or an unreadable image: nothing ran.</summary>
    public const int Usage = 2;
    /// <summary>The guest crashed (triple fault / shutdown, internal error, failed entry).</summary>
    public const int GuestCrashed = 255;
    /// <summary>The guest was still running when the timeout expired.</summary>
    public const int TimedOut = 124;
}
