using System.Text.RegularExpressions;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

/// <summary>
/// <c>expect-async-pf-guest</c>: the report the async-PF scheduler guest prints at its end
/// (<see cref="AsyncPfSchedulerReport"/>) is complete and consistent (every "page not present" answered by one "page
/// ready", every early ready taken by one late sleep, the walker walked every page), says the protocol was on or off
/// as <see cref="AsyncPf"/> asks, and its counts meet every condition.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM (its guest must be asyncpf-scheduler).</param>
/// <param name="AsyncPf">True: the guest must have used the protocol; false: it must not; null: either.</param>
/// <param name="Conditions">One per count named.</param>
public sealed record ExpectAsyncPfGuestStep(SourceLocation Location, string Vm, bool? AsyncPf, IReadOnlyList<CounterCondition> Conditions) : Step(Location)
{
    /// <summary>The counts a step can name, as the guest prints them.</summary>
    public static IReadOnlyList<string> CountNames { get; } = ["pages", "not-present", "ready", "early", "late", "wakeup-all", "compute-units", "idle-tasks"];

    /// <inheritdoc />
    public override string Keyword => "expect-async-pf-guest";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {Vm}'s async-PF guest report to be consistent{(AsyncPf is { } on ? $", protocol {(on ? "on" : "off")}" : "")}{(Conditions.Count > 0 ? ": " + string.Join(", ", Conditions) : "")}";

    /// <summary>The count <paramref name="name"/> of <paramref name="report"/>; idle-tasks: compute tasks that never ran.</summary>
    public static long Count(AsyncPfSchedulerReport report, string name) => name switch
    {
        "pages" => report.WalkPages,
        "not-present" => report.NotPresent,
        "ready" => report.Ready,
        "early" => report.EarlyReady,
        "late" => report.LateSleeps,
        "wakeup-all" => report.WakeupAll,
        "compute-units" => report.ComputeUnits,
        "idle-tasks" => report.TaskProgress.Skip(1).Count(p => p == 0),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a count of the report"),
    };
}

/// <summary>The <c>expect-async-pf-guest</c> step: waits for the scheduler guest's report on the VM's serial and checks it.</summary>
internal sealed partial class ExpectAsyncPfGuestKind() : StepKind<ExpectAsyncPfGuestStep>("expect-async-pf-guest")
{
    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields(["vm", "async-pf", .. ExpectAsyncPfGuestStep.CountNames]);
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var asyncPf = f.Bool("async-pf");
        var conditions = new List<CounterCondition>();
        bool ok = true;
        foreach (var count in ExpectAsyncPfGuestStep.CountNames)
        {
            if (!f.Has(count)) continue;
            if (ExpectAsyncPfKind.ReadCondition(f, count) is { } condition) conditions.Add(condition);
            else ok = false;
        }
        return vm is null || !ok ? null : new ExpectAsyncPfGuestStep(syntax.At, vm, asyncPf, conditions);
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectAsyncPfGuestStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(ExpectAsyncPfGuestStep step, StepCheck check)
    {
        if (check.Vm is { } vm && vm.Guest.Name != GuestCatalog.AsyncPfScheduler)
            check.Error(step.Location, $"expect-async-pf-guest: vm '{vm.Name}' runs guest '{vm.Guest.Name}', which prints no async-PF report; its guest must be '{GuestCatalog.AsyncPfScheduler}'");
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectAsyncPfGuestStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        var observation = vm.Observation;
        // The events line is the report's last; the guest prints nothing after it but its exit.
        var serial = await ScenarioRun.WaitOrFail(vm, o => o.End is not null || EventsLine().IsMatch(o.Serial) ? o.Serial : null, context,
            () => new StepFailure($"{step.Vm} printed no async-PF report within {Durations.Format(context.Timeout!.Value)}", "an 'events: ...' line",
                $"the vm is {observation.State.ToString().ToLowerInvariant()}", step.Vm, observation.SerialTail())).ConfigureAwait(false);
        AsyncPfSchedulerReport report;
        try
        {
            report = AsyncPfSchedulerReport.Parse(serial);
        }
        catch (FormatException e)
        {
            throw new StepFailedException(new StepFailure($"{step.Vm}'s async-PF report is incomplete: {e.Message}", "a complete report", "see the serial output",
                step.Vm, observation.SerialTail()));
        }
        var problems = new List<string>(report.Inconsistencies());
        if (step.AsyncPf is { } on && report.AsyncPfEnabled != on) problems.Add($"the protocol was {(report.AsyncPfEnabled ? "on" : "off")}");
        problems.AddRange(step.Conditions.Where(c => !c.Holds(ExpectAsyncPfGuestStep.Count(report, c.Counter)))
            .Select(c => $"{c.Counter} is {ExpectAsyncPfGuestStep.Count(report, c.Counter)}, expected {c}"));
        string seen = $"apf {(report.AsyncPfEnabled ? "on" : "off")}, " + string.Join(", ", ExpectAsyncPfGuestStep.CountNames.Select(n => $"{n} = {ExpectAsyncPfGuestStep.Count(report, n)}"));
        if (problems.Count > 0)
            throw new StepFailedException(new StepFailure($"{step.Vm}'s async-PF report: {string.Join("; ", problems)}", step.Describe(), seen, step.Vm, observation.SerialTail()));
        return StepOutcome.Saw(seen);
    }

    [GeneratedRegex(@"^events: .*wakeup-all=[0-9a-f]{8}\n", RegexOptions.Multiline)]
    private static partial Regex EventsLine();
}
