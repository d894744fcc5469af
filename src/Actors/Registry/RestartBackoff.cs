namespace Actorvisor.Actors.Registry;

/// <summary>
/// How long the registry waits before it restarts a VM that ended (per its <see cref="VmRestartPolicy"/>): the first
/// restart after <paramref name="Initial"/>, each next one twice as long, at most <paramref name="Max"/>; a VM that ran
/// at least <paramref name="ResetAfter"/> before it ended starts again from <paramref name="Initial"/>.
/// </summary>
public sealed record RestartBackoff(TimeSpan Initial, TimeSpan Max, TimeSpan ResetAfter)
{
    /// <summary>0.5 s doubling to 30 s; reset after a minute of running.</summary>
    public static readonly RestartBackoff Default = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1));

    /// <summary>The wait before the restart that follows <paramref name="consecutive"/> restarts in a row (0: the first).</summary>
    public TimeSpan Delay(int consecutive)
    {
        var ticks = Initial.Ticks * Math.Pow(2, Math.Min(consecutive, 30));
        return ticks >= Max.Ticks ? Max : TimeSpan.FromTicks((long)ticks);
    }
}
