namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// A snapshot that cannot be written or restored: the message names the file at fault (<see cref="FilePath"/>)
/// and what is wrong with it (missing, wrong version, another accelerator, a checksum mismatch, truncated).
/// </summary>
public sealed class SnapshotException : Exception
{
    /// <summary>A problem with <paramref name="filePath"/>, described by <paramref name="problem"/>.</summary>
    public SnapshotException(string filePath, string problem, Exception? inner = null)
        : base($"snapshot file '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file (or snapshot directory) the problem is in.</summary>
    public string FilePath { get; }
}
