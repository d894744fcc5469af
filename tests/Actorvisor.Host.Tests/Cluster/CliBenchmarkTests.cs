using System.Globalization;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>`actorvisor bench cli` end to end on the smallest cluster it allows: every figure printed, each median within its spread, every round logged.</summary>
public sealed class CliBenchmarkTests
{
    [Fact]
    public async Task Bench_cli_times_list_and_describe_processes_against_a_tls_cluster()
    {
        // About 40 s on the shared 2-core machine (1 node, 6 runs of 5 processes each); bounded at 10 minutes.
        var run = await ActorvisorProcess.RunAsync(["bench", "cli", "--nodes", "1", "--vms", "2", "--rounds", "5", "--accelerator", "software"],
            timeout: TimeSpan.FromMinutes(10));
        Assert.True(run.ExitCode == 0, run.ToString());
        var figures = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        Assert.Equal("1", figures["cli.nodes"]);
        Assert.Equal("software", figures["cli.accelerator"]);
        Assert.True(double.Parse(figures["cli.load_avg_start"], CultureInfo.InvariantCulture) >= 0);
        foreach (var kind in new[] { "process_start", "list", "describe", "list_cluster", "describe_cluster" })
        {
            foreach (var figure in new[] { $"cli.{kind}_p50_ms", $"cli.{kind}_cpu_p50_ms" })
            {
                double Value(string suffix) => double.Parse(figures[figure + suffix], CultureInfo.InvariantCulture);
                Assert.True(Value("_min") > 0, figure);
                Assert.InRange(Value(""), Value("_min"), Value("_max"));
            }
            // A process cannot use more CPU time than the machine's cores give it over its wall time.
            Assert.True(double.Parse(figures[$"cli.{kind}_cpu_p50_ms_min"], CultureInfo.InvariantCulture) <= Environment.ProcessorCount * double.Parse(figures[$"cli.{kind}_p50_ms_max"], CultureInfo.InvariantCulture), kind);
        }
        Assert.False(figures.ContainsKey("cli.compare.list_p50_ms"));
        Assert.Equal(5, run.Stderr.Split('\n').Count(l => l.StartsWith("[bench] round ", StringComparison.Ordinal)));
    }
}
