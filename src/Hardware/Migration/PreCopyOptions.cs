namespace Actorvisor.Hardware.Migration;

/// <summary>When a pre-copy migration stops copying a running VM and pauses it for the last pages and its state.</summary>
public sealed record PreCopyOptions
{
    /// <summary>
    /// The pause the migration aims for: it pauses once the dirty pages left would take at most this long to send at
    /// the bandwidth measured so far. Default 100 ms.
    /// </summary>
    public TimeSpan MaxDowntime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Rounds after the first full pass before it pauses anyway (the dirty rate outruns the stream). Default 30.</summary>
    public int MaxRounds { get; init; } = 30;
}
