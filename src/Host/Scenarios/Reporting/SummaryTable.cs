using Actorvisor.Host.Scenarios.Running;
using Spectre.Console;

namespace Actorvisor.Host.Scenarios.Reporting;

/// <summary>The end-of-run summary: one row per scenario, a table of measurements, and the closing "N passed, N failed" line.</summary>
public static class SummaryTable
{
    /// <summary>Writes the summary of <paramref name="results"/> to <paramref name="console"/>.</summary>
    public static void Write(IAnsiConsole console, IReadOnlyList<ScenarioResult> results)
    {
        var table = new Table().Title("Scenarios").AddColumns("Scenario", "Result", "Steps", "Time", "Failure");
        foreach (var r in results)
        {
            int passed = r.Steps.Count(s => s.Status == StepStatus.Passed);
            string failure = "";
            if (r.FailedStep is { } failed)
            {
                var cause = failed.Cause;
                failure = $"step {cause.Path} ({cause.Step.Describe()}): {(cause.Failure ?? failed.Failure)?.Message}";
            }
            else if (r.Failure is not null)
            {
                failure = r.Failure.Message;
            }
            table.AddRow(
                new Text(r.Scenario.Name),
                new Markup(r.Passed ? "[green]passed[/]" : "[red]failed[/]"),
                new Text($"{passed}/{r.Steps.Count}"),
                new Text(ProgressReporter.Format(r.Elapsed)),
                new Text(failure));
        }
        console.Write(table);

        var measured = results.SelectMany(r => r.Measurements.Select(m => (r.Scenario.Name, Measurement: m))).ToList();
        if (measured.Count > 0)
        {
            var measures = new Table().Title("Measurements").AddColumns("Scenario", "Measure", "Samples", "Min", "Median", "Mean", "Max");
            foreach (var (scenario, m) in measured)
                measures.AddRow(scenario, m.Name, m.Samples.Count.ToString(), Ms(m.Min), Ms(m.Median), Ms(m.Mean), Ms(m.Max));
            console.Write(measures);
        }
        int ok = results.Count(r => r.Passed);
        console.MarkupLine($"{ok} passed, {results.Count - ok} failed");
    }

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0.0} ms";
}
