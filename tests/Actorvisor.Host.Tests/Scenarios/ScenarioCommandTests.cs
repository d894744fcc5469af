using Actorvisor.Host.Cli;
using Actorvisor.Host.Scenarios.Running;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>`actorvisor scenario run`: errors before anything runs, exit codes, summary, JUnit option, folders and patterns.</summary>
public class ScenarioCommandTests(ITestOutputHelper output)
{
    private static string Folder(params (string Name, string Yaml)[] files)
    {
        var folder = Directory.CreateTempSubdirectory("scenario-cli").FullName;
        foreach (var (name, yaml) in files) File.WriteAllText(Path.Combine(folder, name), yaml);
        return folder;
    }

    private async Task<(int Exit, string Out, string Errors, RecordingNodeFactory Nodes)> Run(params string[] arguments)
    {
        var nodes = new RecordingNodeFactory(new Actorvisor.Host.Scenarios.Nodes.InProcessNodeFactory());
        var outWriter = new StringWriter();
        var errWriter = new StringWriter();
        var junit = arguments.FirstOrDefault(a => a.EndsWith(".xml", StringComparison.Ordinal));
        int exit = await ScenarioCommand.RunAsync([.. arguments.Where(a => a != junit)], junit, verbose: false,
            new ScenarioRunner(nodes, new ScenarioRunOptions { AcceleratorOverride = ScenarioTestSupport.AcceleratorOverride }),
            ScenarioTestSupport.PlainConsole(outWriter), errWriter, CancellationToken.None);
        output.WriteLine(outWriter.ToString());
        output.WriteLine(errWriter.ToString());
        return (exit, outWriter.ToString(), errWriter.ToString(), nodes);
    }

    private const string Good = "vms: [ { name: h, guest: hello } ]\nsteps: [ { create: h }, { start: h }, { expect-result: { vm: h, code: 0 } } ]\n";

    [Fact]
    public async Task A_file_with_errors_stops_everything_before_it_runs_and_lists_each_error_with_its_location()
    {
        var folder = Folder(("a-good.yaml", Good), ("b-bad.yaml", "steps:\n  - strat: h\n  - repeat: { times: x, steps: [ { create: h } ] }\n"));
        var junit = Path.Combine(folder, "report.xml");
        var (exit, _, errors, nodes) = await Run(folder, junit);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains($"{Path.Combine(folder, "b-bad.yaml")}:2:5: error: unknown step 'strat'", errors);
        Assert.Contains($"{Path.Combine(folder, "b-bad.yaml")}:3:22: error: repeat: 'times' must be an integer, got 'x'", errors);
        Assert.Contains("1 scenario file(s) have errors; nothing was run", errors);
        Assert.Empty(nodes.Started); // not even the good file ran
        Assert.Contains("name=\"parse\"", File.ReadAllText(junit));
    }

    [Fact]
    public async Task Passing_and_failing_scenarios_give_exit_codes_0_and_1_with_a_summary()
    {
        var folder = Folder(("good.yaml", Good), ("failing.yaml", Good.Replace("code: 0", "code: 5")));
        var (exit, stdout, _, _) = await Run(Path.Combine(folder, "good.yaml"));
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("1 passed, 0 failed", stdout);

        var junit = Path.Combine(folder, "out", "junit.xml");
        (exit, stdout, _, _) = await Run(Path.Combine(folder, "*.yaml"), junit);
        Assert.Equal(ScenarioCommand.ScenarioFailed, exit);
        Assert.Contains("1 passed, 1 failed", stdout);
        Assert.Contains("expected: exit with result code 5", stdout);
        Assert.Contains("step 3 (expect h to exit with 5)", stdout); // the summary names the failing step
        Assert.True(File.Exists(junit));
    }

    [Fact]
    public async Task A_pattern_without_matches_and_a_missing_file_are_errors()
    {
        var folder = Folder();
        var (exit, _, errors, _) = await Run(Path.Combine(folder, "*.yaml"), Path.Combine(folder, "missing.yaml"));
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("no scenario files match", errors);
        Assert.Contains("missing.yaml:1:1: error: cannot read the file", errors);
    }
}
