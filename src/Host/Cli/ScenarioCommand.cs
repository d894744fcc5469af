using System.CommandLine;
using Actorvisor.Hardware.Accel;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Reporting;
using Actorvisor.Host.Scenarios.Running;
using Actorvisor.Host.Scenarios.Language;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor scenario run FILE...` and `actorvisor scenario check FILE...`: reads every file first (all
/// errors, with file:line:column, before anything runs), then runs the scenarios one after the other with
/// live progress, prints a summary table, optionally writes a JUnit XML report, and exits non-zero on any failure.
/// </summary>
public static class ScenarioCommand
{
    /// <summary>Exit code when a scenario failed.</summary>
    public const int ScenarioFailed = 1;

    /// <summary>Builds the command. <paramref name="nodes"/> starts the nodes (default: in-process actor runtimes).</summary>
    public static Command Create(INodeFactory? nodes = null)
    {
        var files = new Argument<string[]>("FILE") { Description = "scenario files, folders of *.yaml files, or patterns like tests/scenarios/*.yaml", Arity = ArgumentArity.OneOrMore };
        var junit = new Option<FileInfo?>("--junit") { Description = "also write a JUnit XML report to this file" };
        var accelerator = new Option<AcceleratorPreference?>("--accelerator") { Description = "run every VM on this accelerator (auto, kvm or software) instead of the one the file names" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "show every nested step, the scenario descriptions and the actor runtime's warnings" };
        var run = new Command("run", "Run scenario files; exit code 0 if all pass, 1 if any fails, 2 if a file is invalid (then nothing runs)")
        {
            files, junit, accelerator, verbose,
        };
        run.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ScenarioRunOptions { AcceleratorOverride = parse.GetValue(accelerator) };
            return await RunAsync(parse.GetValue(files)!, parse.GetValue(junit)?.FullName, parse.GetValue(verbose),
                new ScenarioRunner(nodes ?? new ScenarioNodeFactory(new InProcessNodeFactory(parse.GetValue(verbose) ? "WARNING" : "OFF"), ClusterAccelerator(options)), options), Terminal(), Console.Error, cancellationToken);
        });

        var checkFiles = new Argument<string[]>("FILE") { Description = "scenario files, folders or patterns", Arity = ArgumentArity.OneOrMore };
        var check = new Command("check", "Read and validate scenario files without running them") { checkFiles };
        check.SetAction(parse =>
        {
            var (scenarios, rejected) = Read(parse.GetValue(checkFiles)!, Console.Error);
            foreach (var s in scenarios) Console.WriteLine($"{s.File}: ok ({s.Vms.Count} vm(s), {s.Steps.Count} step(s))");
            return rejected.Count == 0 && scenarios.Count > 0 ? ExitCodes.Ok : ExitCodes.Usage;
        });
        return new Command("scenario", "Scripted scenarios: YAML files that drive VMs through the actor runtime (see docs/scenarios.md)") { run, check };
    }

    // Cluster nodes run their VMs on the accelerator --accelerator names, else the software one (as scenarios default to).
    private static string ClusterAccelerator(ScenarioRunOptions options) =>
        options.AcceleratorOverride?.ToString().ToLowerInvariant() ?? "software";

    // Spectre assumes 80 columns when the output is not a terminal; a CI log reads better one report line per line.
    private static IAnsiConsole Terminal()
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected) console.Profile.Width = Math.Max(console.Profile.Width, 160);
        return console;
    }

    /// <summary>Reads, runs and reports <paramref name="arguments"/>; returns the exit code.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> arguments, string? junitPath, bool verbose, ScenarioRunner runner,
        IAnsiConsole console, TextWriter errors, CancellationToken cancellationToken)
    {
        var (scenarios, rejected) = Read(arguments, errors);
        if (rejected.Count > 0 || scenarios.Count == 0)
        {
            if (rejected.Count > 0) errors.WriteLine($"actorvisor: {rejected.Count} scenario file(s) have errors; nothing was run");
            if (junitPath is not null) JUnitReport.Write(junitPath, [], rejected);
            return ExitCodes.Usage;
        }
        var reporter = new ProgressReporter(console, verbose);
        var results = new List<ScenarioResult>();
        async Task RunAll()
        {
            foreach (var scenario in scenarios)
            {
                if (cancellationToken.IsCancellationRequested) break;
                results.Add(await runner.RunAsync(scenario, reporter, cancellationToken).ConfigureAwait(false));
            }
        }
        if (console.Profile.Capabilities.Interactive)
        {
            await console.Status().StartAsync("starting", async context =>
            {
                reporter.Status = context;
                await RunAll().ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        else
        {
            await RunAll().ConfigureAwait(false);
        }
        console.WriteLine();
        SummaryTable.Write(console, results);
        if (junitPath is not null)
        {
            JUnitReport.Write(junitPath, results);
            console.MarkupLine($"[grey]JUnit report: {Markup.Escape(junitPath)}[/]");
        }
        return results.Count == scenarios.Count && results.All(r => r.Passed) ? ExitCodes.Ok : ScenarioFailed;
    }

    /// <summary>Expands and reads every file; parse errors are written to <paramref name="errors"/> as file:line:column lines.</summary>
    public static (List<Scenario> Scenarios, List<(string File, IReadOnlyList<ScenarioError> Errors)> Rejected) Read(IReadOnlyList<string> arguments, TextWriter errors)
    {
        var scenarios = new List<Scenario>();
        var rejected = new List<(string, IReadOnlyList<ScenarioError>)>();
        foreach (var file in Expand(arguments, errors))
        {
            try
            {
                scenarios.Add(ScenarioParser.ParseFile(file));
            }
            catch (ScenarioParseException e)
            {
                foreach (var error in e.Errors) errors.WriteLine(error);
                rejected.Add((file, e.Errors));
            }
        }
        return (scenarios, rejected);
    }

    // Files as given; folders as their *.yaml files; patterns the shell did not expand (quoted) by their folder's matches.
    private static IEnumerable<string> Expand(IReadOnlyList<string> arguments, TextWriter errors)
    {
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                foreach (var f in Directory.GetFiles(argument, "*.yaml").Order(StringComparer.Ordinal)) yield return f;
            }
            else if (Path.GetFileName(argument).IndexOfAny(['*', '?']) >= 0)
            {
                var folder = Path.GetDirectoryName(argument) is { Length: > 0 } d ? d : ".";
                var matches = Directory.Exists(folder) ? Directory.GetFiles(folder, Path.GetFileName(argument)).Order(StringComparer.Ordinal).ToList() : [];
                if (matches.Count == 0) errors.WriteLine($"actorvisor: no scenario files match '{argument}'");
                foreach (var f in matches) yield return f;
            }
            else
            {
                yield return argument; // a missing file is reported by the parser, with its name
            }
        }
    }
}
