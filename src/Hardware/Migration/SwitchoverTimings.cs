namespace Actorvisor.Hardware.Migration;

/// <summary>
/// Where a migration's pause went, as the source measured each step from asking the VM to pause to the go-ahead
/// leaving it (the downtime, but for the target's start after the go-ahead).
/// </summary>
/// <param name="Pause">Asking the vCPUs to stop until they stopped and the VM's state was taken.</param>
/// <param name="Harvest">The last harvest of the dirty log.</param>
/// <param name="LastPages">Reading and sending the last dirty pages (by post-copy only those of memslots other than 0).</param>
/// <param name="Discards">By post-copy, sending the list of memslot 0's pages that went stale since the last discard round.</param>
/// <param name="StateToReady">Encoding and sending the state until the target's <see cref="MigrationFrameKind.Ready"/>: the target applying what was still in flight and loading the state into its machine.</param>
/// <param name="Go">Sending the go-ahead.</param>
public sealed record SwitchoverTimings(TimeSpan Pause, TimeSpan Harvest, TimeSpan LastPages, TimeSpan Discards, TimeSpan StateToReady, TimeSpan Go)
{
    /// <summary>The steps together.</summary>
    public TimeSpan Total => Pause + Harvest + LastPages + Discards + StateToReady + Go;

    /// <inheritdoc />
    public override string ToString() =>
        $"pause {Ms(Pause)}, harvest {Ms(Harvest)}, last pages {Ms(LastPages)}, discards {Ms(Discards)}, state to ready {Ms(StateToReady)}, go {Ms(Go)} ms";

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
