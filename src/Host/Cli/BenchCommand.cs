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
        return new Command("bench", "Benchmarks (one `key: value` figure per line)") { exitsCommand, AsyncPfCommand(), AsyncPfDestroyCommand() };
    }

    private static Command AsyncPfCommand()
    {
        var fillPages = new Option<int>("--fill-pages") { Description = "pages of lazy memory to fill (runtime and C loop)", DefaultValueFactory = _ => 32_768 };
        var touchPages = new Option<int>("--touch-pages") { Description = "pages the 2-vCPU guest touches in order", DefaultValueFactory = _ => 4096 };
        var latency = new Option<double>("--latency-ms") { Description = "store latency per page read, in ms", DefaultValueFactory = _ => 1.0 };
        var rounds = new Option<int>("--rounds") { Description = "rounds of each measurement (best is reported)", DefaultValueFactory = _ => 3 };
        fillPages.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 64) r.AddError("--fill-pages must be at least 64"); });
        touchPages.Validators.Add(r => { int v = r.GetValueOrDefault<int>(); if (v < 64 || v % 2 != 0) r.AddError("--touch-pages must be an even number, at least 64"); });
        latency.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1000) r.AddError("--latency-ms must be 0..1000"); });
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--rounds must be at least 1"); });
        var command = new Command("asyncpf", "Lazy fill vs a C UFFDIO_COPY loop; a 2-vCPU sequential touch with async workers + readahead vs synchronous only")
            { fillPages, touchPages, latency, rounds };
        command.SetAction(parse => Print(AsyncPfBenchmark.Run(parse.GetValue(fillPages), parse.GetValue(touchPages), parse.GetValue(latency), parse.GetValue(rounds), Console.Error)));
        return command;
    }

    private static Command AsyncPfDestroyCommand()
    {
        var count = new Option<int>("--count") { Description = "VMs to destroy", DefaultValueFactory = _ => 10_000 };
        var parallel = new Option<int>("--parallel") { Description = "VMs alive at a time", DefaultValueFactory = _ => 4 };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--count must be at least 1"); });
        parallel.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 16) r.AddError("--parallel must be 1..16"); });
        var command = new Command("asyncpf-destroy", "Destroys VMs with async page faults in flight against a slow store; counts what is left behind")
            { count, parallel };
        command.SetAction(parse =>
        {
            var figures = AsyncPfDestroyBenchmark.Run(parse.GetValue(count), parse.GetValue(parallel), Console.Error);
            Print(figures);
            // A stress run that found something left behind fails (exit 1), so scripts can rely on it.
            return figures.Any(f => f.Key == "asyncpf.destroy.problems" && f.Value != "0") ? 1 : ExitCodes.Ok;
        });
        return command;
    }

    private static int Print(IReadOnlyList<(string Key, string Value)> figures)
    {
        foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
        return ExitCodes.Ok;
    }
}
