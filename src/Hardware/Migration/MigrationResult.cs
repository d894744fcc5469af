namespace Actorvisor.Hardware.Migration;

/// <summary>
/// A pre-copy migration that switched over, as the source measured it. After it the target runs the VM and the
/// source's copy is paused for good (its owner destroys it).
/// </summary>
/// <param name="Rounds">Every pre-copy round, in order.</param>
/// <param name="Converged">True if the dirty pages left fit the downtime budget; false if the round limit ended pre-copy.</param>
/// <param name="FinalPages">Pages sent while the VM was paused (the last dirty set).</param>
/// <param name="WireBytes">Bytes the source put on the stream in all.</param>
/// <param name="MemoryBytes">Bytes of guest memory.</param>
/// <param name="Downtime">From the pause (the source's vCPUs stopped) to the target's go-ahead being sent.</param>
/// <param name="Total">From the start to the switchover.</param>
public sealed record MigrationResult(IReadOnlyList<PreCopyRound> Rounds, bool Converged, long FinalPages, long WireBytes, ulong MemoryBytes,
    TimeSpan Downtime, TimeSpan Total)
{
    /// <summary>Bytes sent per byte of guest memory (1 is a single full pass with no zero pages).</summary>
    public double BytesOverRam => MemoryBytes == 0 ? 0 : (double)WireBytes / MemoryBytes;
}
