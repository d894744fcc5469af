namespace Actorvisor.Hardware.Migration;

/// <summary>
/// One pre-copy round as the source reports it: round 0 is the full pass, later rounds resend what the dirty log
/// reported. After sending, the dirty log is harvested again: <paramref name="DirtyPagesLeft"/> is what the next
/// round (or the pause) would send, <paramref name="ExpectedDowntime"/> how long that takes at the measured bandwidth.
/// </summary>
/// <param name="Number">Round number, 0 first.</param>
/// <param name="PagesSent">Pages sent this round with their data.</param>
/// <param name="ZeroPagesSent">Pages sent as zero pages (8 bytes each).</param>
/// <param name="WireBytes">Bytes this round put on the stream.</param>
/// <param name="Duration">How long the round took (sending and harvesting).</param>
/// <param name="DirtyPagesLeft">Pages the guest dirtied during the round.</param>
/// <param name="DirtyPagesPerSecond">The guest's dirty rate over the round.</param>
/// <param name="BandwidthBytesPerSecond">Bytes per second the stream took over all rounds so far.</param>
/// <param name="ExpectedDowntime">The dirty pages left at that bandwidth.</param>
public sealed record PreCopyRound(int Number, long PagesSent, long ZeroPagesSent, long WireBytes, TimeSpan Duration, long DirtyPagesLeft,
    double DirtyPagesPerSecond, double BandwidthBytesPerSecond, TimeSpan ExpectedDowntime);
