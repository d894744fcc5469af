using System.Globalization;
using System.Text.RegularExpressions;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// What <see cref="AsyncPfSchedulerGuest"/> printed at the end of a run, parsed from its console: whether it enabled
/// the protocol, the walk, each task's progress, the compute total and the event counts. Owns the consistency rules
/// a correct run satisfies (<see cref="Inconsistencies"/>).
/// </summary>
public sealed partial record AsyncPfSchedulerReport(
    bool AsyncPfEnabled, uint WalkPages, uint WalkSum, IReadOnlyList<uint> TaskProgress, uint ComputeUnits,
    uint NotPresent, uint Ready, uint EarlyReady, uint LateSleeps, uint WakeupAll)
{
    /// <summary>Timer ticks the guest took (0 if it did not print its "sched:" line).</summary>
    public uint Ticks { get; init; }

    /// <summary>Ticks that found the task a "page ready" had just woken still running and left it so.</summary>
    public uint WokenKept { get; init; }

    /// <summary>Parses the console of a run; throws <see cref="FormatException"/> naming the missing line.</summary>
    public static AsyncPfSchedulerReport Parse(string console)
    {
        ArgumentNullException.ThrowIfNull(console);
        bool enabled = Line(ApfLine(), console, "apf: on|off").Groups[1].Value == "on";
        var walk = Line(WalkLine(), console, "walk: pages=.. sum=..");
        var events = Line(EventsLine(), console, "events: ...");
        var compute = Line(ComputeLine(), console, "compute: units=..");
        var sched = SchedLine().Match(console);
        var tasks = TaskLine().Matches(console).Select(m => Hex(m.Groups[2].Value)).ToList();
        if (tasks.Count == 0) throw new FormatException("the guest printed no task lines");
        return new AsyncPfSchedulerReport(enabled, Hex(walk.Groups[1].Value), Hex(walk.Groups[2].Value), tasks, Hex(compute.Groups[1].Value),
            Hex(events.Groups[1].Value), Hex(events.Groups[2].Value), Hex(events.Groups[3].Value), Hex(events.Groups[4].Value), Hex(events.Groups[5].Value))
        {
            Ticks = sched.Success ? Hex(sched.Groups[1].Value) : 0,
            WokenKept = sched.Success ? Hex(sched.Groups[2].Value) : 0,
        };
    }

    /// <summary>
    /// The rules a correct run keeps, as the broken ones: the walker walked every page; without the protocol no event;
    /// with it every "page not present" was answered by exactly one "page ready" unless a wakeup-all released its
    /// sleeper, every early ready was consumed by exactly one late sleep, and the compute total is the sum of the tasks.
    /// </summary>
    public IReadOnlyList<string> Inconsistencies()
    {
        var broken = new List<string>();
        if (TaskProgress[0] != WalkPages) broken.Add($"the walker's progress {TaskProgress[0]} is not the {WalkPages} pages walked");
        long units = TaskProgress.Skip(1).Sum(p => (long)p);
        if ((uint)units != ComputeUnits) broken.Add($"compute units {ComputeUnits} are not the tasks' sum {units}");
        if (!AsyncPfEnabled && NotPresent + Ready + EarlyReady + LateSleeps + WakeupAll != 0) broken.Add("events without the protocol");
        if (WakeupAll == 0 && Ready != NotPresent) broken.Add($"{NotPresent} not-present but {Ready} ready");
        if (WakeupAll > 0 && Ready > NotPresent) broken.Add($"{Ready} ready for only {NotPresent} not-present");
        if (EarlyReady > Ready) broken.Add($"{EarlyReady} early of {Ready} ready");
        if (WakeupAll == 0 && LateSleeps != EarlyReady) broken.Add($"{EarlyReady} early ready but {LateSleeps} late sleeps");
        return broken;
    }

    private static Match Line(Regex regex, string console, string what)
    {
        var m = regex.Match(console);
        if (!m.Success) throw new FormatException($"the guest did not print '{what}'");
        return m;
    }

    private static uint Hex(string digits) => uint.Parse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^apf: (on|off)$", RegexOptions.Multiline)]
    private static partial Regex ApfLine();

    [GeneratedRegex(@"^walk: pages=([0-9a-f]{8}) sum=([0-9a-f]{8})$", RegexOptions.Multiline)]
    private static partial Regex WalkLine();

    [GeneratedRegex(@"^task(\d+): ([0-9a-f]{8})$", RegexOptions.Multiline)]
    private static partial Regex TaskLine();

    [GeneratedRegex(@"^sched: ticks=([0-9a-f]{8}) woken-kept=([0-9a-f]{8})$", RegexOptions.Multiline)]
    private static partial Regex SchedLine();

    [GeneratedRegex(@"^compute: units=([0-9a-f]{8})$", RegexOptions.Multiline)]
    private static partial Regex ComputeLine();

    [GeneratedRegex(@"^events: not-present=([0-9a-f]{8}) ready=([0-9a-f]{8}) early=([0-9a-f]{8}) late=([0-9a-f]{8}) wakeup-all=([0-9a-f]{8})$", RegexOptions.Multiline)]
    private static partial Regex EventsLine();
}
