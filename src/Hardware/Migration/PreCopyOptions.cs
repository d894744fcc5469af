namespace Actorvisor.Hardware.Migration;

/// <summary>
/// How a live migration runs: when pre-copy stops copying a running VM and pauses it, whether it may finish by
/// post-copy instead, and how fast the source may send.
/// </summary>
public sealed record PreCopyOptions
{
    /// <summary>
    /// The pause the migration aims for: it pauses once the dirty pages left would take at most this long to send at
    /// the bandwidth measured so far. Default 100 ms.
    /// </summary>
    public TimeSpan MaxDowntime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Rounds after the first full pass before it pauses anyway (the dirty rate outruns the stream). Default 30.</summary>
    public int MaxRounds { get; init; } = 30;

    /// <summary>Whether the migration may end by post-copy (default <see cref="PostCopyMode.Never"/>).</summary>
    public PostCopyMode PostCopy { get; init; } = PostCopyMode.Never;

    /// <summary>
    /// The most bytes per second the source puts on the stream (a token bucket over every page frame), or null for no
    /// limit. The rounds' bandwidth, and so their expected downtime, is measured under it.
    /// </summary>
    public long? BandwidthBytesPerSecond { get; init; }

    /// <summary>Throws if a value is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">a negative budget or round limit, an unknown mode, or a bandwidth limit under 64 KiB/s.</exception>
    public void Validate()
    {
        if (MaxDowntime < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxDowntime), MaxDowntime, "the downtime budget must not be negative");
        if (MaxRounds < 0) throw new ArgumentOutOfRangeException(nameof(MaxRounds), MaxRounds, "the round limit must not be negative");
        if (!Enum.IsDefined(PostCopy)) throw new ArgumentOutOfRangeException(nameof(PostCopy), PostCopy, "not a post-copy mode");
        if (BandwidthBytesPerSecond is < MinBandwidthBytesPerSecond)
            throw new ArgumentOutOfRangeException(nameof(BandwidthBytesPerSecond), BandwidthBytesPerSecond, $"a bandwidth limit must be at least {MinBandwidthBytesPerSecond} bytes/s");
    }

    /// <summary>The lowest bandwidth limit accepted (a batch of pages then takes a few seconds).</summary>
    public const long MinBandwidthBytesPerSecond = 64 << 10;
}
