namespace Actorvisor.Hardware.Native;

/// <summary>
/// A path refused by a <see cref="ConfinedDirectory"/>: it leaves the directory, goes through a magic link,
/// does not exist, or is not a regular file. Owns the path as it was named, the directory it was confined to
/// and the reason in words.
/// </summary>
public sealed class ConfinedPathException : IOException
{
    /// <summary>A refusal of <paramref name="path"/> under <paramref name="root"/> for <paramref name="reason"/>.</summary>
    public ConfinedPathException(string root, string path, string reason, Exception? inner = null)
        : base($"'{path}' (in {root}) is refused: {reason}", inner)
    {
        Root = root;
        RequestedPath = path;
        Reason = reason;
    }

    /// <summary>The directory the path was confined to.</summary>
    public string Root { get; }

    /// <summary>The path as the caller named it, relative to <see cref="Root"/>.</summary>
    public string RequestedPath { get; }

    /// <summary>Why it was refused, without the path.</summary>
    public string Reason { get; }
}
