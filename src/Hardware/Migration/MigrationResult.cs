namespace Actorvisor.Hardware.Migration;

/// <summary>
/// A migration that switched over (and, by post-copy, completed), as the source measured it. After it the target runs
/// the VM with all of its memory and the source's copy is paused for good (its owner destroys it).
/// </summary>
/// <param name="Rounds">Every pre-copy round, in order.</param>
/// <param name="Converged">True if the dirty pages left fit the downtime budget; false if the round limit, or the switch to post-copy, ended pre-copy.</param>
/// <param name="FinalPages">Pages sent while the VM was paused (the last dirty set; by post-copy, only those of memslots other than 0).</param>
/// <param name="WireBytes">Bytes the source put on the stream in all.</param>
/// <param name="MemoryBytes">Bytes of guest memory.</param>
/// <param name="Downtime">From the pause (the source's vCPUs stopped) to the target's go-ahead being sent.</param>
/// <param name="Total">From the start to the switchover (by post-copy: to the target's completion).</param>
public sealed record MigrationResult(IReadOnlyList<PreCopyRound> Rounds, bool Converged, long FinalPages, long WireBytes, ulong MemoryBytes,
    TimeSpan Downtime, TimeSpan Total)
{
    /// <summary>The post-copy phase, if the migration switched over by post-copy; null for pre-copy.</summary>
    public PostCopyStats? PostCopy { get; init; }

    /// <summary>By post-copy, the discard rounds before the pause (the target dropping pages gone stale while the VM still ran).</summary>
    public IReadOnlyList<DiscardRound> DiscardRounds { get; init; } = [];

    /// <summary>Where the pause went, step by step (null only for a result not made by <see cref="PreCopySource"/>).</summary>
    public SwitchoverTimings? Switchover { get; init; }

    /// <summary>Bytes sent per byte of guest memory (1 is a single full pass with no zero pages).</summary>
    public double BytesOverRam => MemoryBytes == 0 ? 0 : (double)WireBytes / MemoryBytes;
}
