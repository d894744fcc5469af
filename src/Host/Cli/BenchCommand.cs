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
        return new Command("bench", "Benchmarks (one `key: value` figure per line)") { exitsCommand, ClusterBenchCommand.Create() };
    }

    private static int Print(IReadOnlyList<(string Key, string Value)> figures)
    {
        foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
        return ExitCodes.Ok;
    }
}
