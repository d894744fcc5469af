namespace Actorvisor.Hardware.Snapshots;

/// <summary>The steps of <see cref="SnapshotWriter.Write"/>, in order (a crash between two leaves no valid snapshot).</summary>
public enum SnapshotWriteStep
{
    /// <summary>The partial directory exists, empty.</summary>
    PartialDirectoryCreated,
    /// <summary>The vCPU, platform and device state files are written and synced.</summary>
    StateWritten,
    /// <summary>The memory files are written and synced.</summary>
    MemoryWritten,
    /// <summary>The manifest is written and synced, in the partial directory still.</summary>
    ManifestWritten,
    /// <summary>The partial directory has its final name, and the rename is synced.</summary>
    Renamed,
}
