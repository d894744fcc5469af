using System.CommandLine;
using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor bench NAME`: prints one `key: value` figure per line, against a baseline measured in the same run.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command with one subcommand per benchmark.</summary>
    public static Command Create()
    {
        var exits = new Option<int>("--exits") { Description = "port-I/O exits per round", DefaultValueFactory = _ => 2_000_000 };
        var rounds = new Option<int>("--rounds") { Description = "rounds of each measurement (best is reported)", DefaultValueFactory = _ => 3 };
        exits.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1000) r.AddError("--exits must be at least 1000"); });
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--rounds must be at least 1"); });
        var exitsCommand = new Command("exits", "Port-I/O exits per second through the runtime vs a raw Unicorn OUT-hook loop") { exits, rounds };
        exitsCommand.SetAction(parse => Print(ExitsBenchmark.Run(parse.GetValue(exits), parse.GetValue(rounds))));
        var vms = new Option<int>("--vms") { Description = "VMs created, started and destroyed", DefaultValueFactory = _ => 300 };
        var idle = new Option<int>("--idle-vms") { Description = "idle VMs held at once for the memory figure", DefaultValueFactory = _ => 100 };
        var trips = new Option<int>("--round-trips") { Description = "pause/resume round trips", DefaultValueFactory = _ => 2000 };
        foreach (var o in new[] { vms, idle, trips })
            o.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 10) r.AddError($"{o.Name} must be at least 10"); });
        var lifecycleCommand = new Command("lifecycle", "VM create+start+destroy per second, memory per idle VM, vCPU pause/resume round trip") { vms, idle, trips };
        lifecycleCommand.SetAction(async (parse, _) =>
            Print(await LifecycleBenchmark.RunAsync(parse.GetValue(vms), parse.GetValue(idle), parse.GetValue(trips))));
        return new Command("bench", "Benchmarks (one `key: value` figure per line)") { exitsCommand, lifecycleCommand, ClusterBenchCommand.Create() };
    }

    private static int Print(IReadOnlyList<(string Key, string Value)> figures)
    {
        foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
        return ExitCodes.Ok;
    }
}
