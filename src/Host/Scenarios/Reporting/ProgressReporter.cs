using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Running;
using Spectre.Console;

namespace Actorvisor.Host.Scenarios.Reporting;

/// <summary>
/// Prints a run as it happens: a header per scenario, a line per finished top-level step (every step with
/// <c>verbose</c>), the failure details of a failed step, and notes such as the accelerator each VM got.
/// With a live <see cref="StatusContext"/> (an interactive terminal) the spinner line shows the step running now.
/// </summary>
public sealed class ProgressReporter(IAnsiConsole console, bool verbose = false) : IScenarioObserver
{
    private readonly object _gate = new();

    /// <summary>The spinner of an interactive run, or null for plain output.</summary>
    public StatusContext? Status { get; set; }

    /// <inheritdoc />
    public void ScenarioStarted(Scenario scenario)
    {
        lock (_gate)
        {
            console.MarkupLine($"[bold]▶ {Markup.Escape(scenario.Name)}[/] [grey]({Markup.Escape(scenario.File)})[/]");
            if (verbose && scenario.Description.Length > 0) console.MarkupLine($"  [grey]{Markup.Escape(scenario.Description)}[/]");
            Status?.Status($"{scenario.Name}: starting nodes");
        }
    }

    /// <inheritdoc />
    public void StepStarted(Scenario scenario, string path, Step step)
    {
        lock (_gate) Status?.Status(Markup.Escape($"{scenario.Name}: step {path}: {step.Describe()}"));
    }

    /// <inheritdoc />
    public void StepFinished(Scenario scenario, StepResult result)
    {
        bool topLevel = !result.Path.Contains('.') && !result.Path.Contains('#');
        if (!topLevel && !verbose) return;
        lock (_gate)
        {
            int depth = result.Path.Count(c => c is '.' or '#');
            var indent = new string(' ', 2 + 2 * Math.Min(depth, 6));
            var (mark, color) = result.Status switch
            {
                StepStatus.Passed => ("✓", "green"),
                StepStatus.Failed => ("✗", "red"),
                _ => ("-", "grey"),
            };
            var detail = result.Detail is null ? "" : $" [grey]({Markup.Escape(result.Detail)})[/]";
            var time = result.Status == StepStatus.Skipped ? "[grey]skipped[/]" : $"[grey]{Format(result.Elapsed)}[/]";
            console.MarkupLine($"{indent}[{color}]{mark}[/] {Markup.Escape(result.Path)} {Markup.Escape(result.Step.Describe())}{detail} {time}");
            if (result.Status == StepStatus.Failed && topLevel)
            {
                var cause = result.Cause;
                var where = cause == result ? "" : $"step {cause.Path} ({cause.Step.Describe()}) at {cause.Step.Location}: ";
                var failure = cause.Failure ?? result.Failure;
                if (failure is not null)
                    foreach (var line in (where + failure.Render()).Split('\n'))
                        console.MarkupLine($"{indent}    [red]{Markup.Escape(line)}[/]");
            }
        }
    }

    /// <inheritdoc />
    public void Note(Scenario scenario, string text)
    {
        lock (_gate) console.MarkupLine($"    [grey]{Markup.Escape(text)}[/]");
    }

    /// <inheritdoc />
    public void ScenarioFinished(ScenarioResult result)
    {
        lock (_gate)
        {
            if (result.Failure is not null)
                foreach (var line in result.Failure.Render().Split('\n')) console.MarkupLine($"  [red]{Markup.Escape(line)}[/]");
            var verdict = result.Passed ? "[green]passed[/]" : "[red]FAILED[/]";
            console.MarkupLine($"  {verdict} [grey]in {Format(result.Elapsed)}[/]");
        }
    }

    /// <summary>"12 ms", "1.53 s".</summary>
    public static string Format(TimeSpan t) => t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0} ms" : $"{t.TotalSeconds:0.00} s";
}
