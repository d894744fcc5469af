namespace Actorvisor.Hardware.Snapshots;

/// <summary>What <see cref="PartialSnapshotDirectories.RemoveAbandoned"/> did in one directory.</summary>
/// <param name="Removed">The partial snapshot directories deleted (no writer held them).</param>
/// <param name="InUse">Those left because a writer holds them.</param>
/// <param name="Failed">Those that could not be removed, each "PATH: why".</param>
public sealed record PartialSnapshotSweep(IReadOnlyList<string> Removed, IReadOnlyList<string> InUse, IReadOnlyList<string> Failed);
