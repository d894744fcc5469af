using System.CommandLine;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor bench cli`: how long `vm list` and `vm describe` take as separate processes, as a configured user runs them (HTTP) and as cluster client.</summary>
public static class CliBenchCommand
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "nodes of the loopback cluster", DefaultValueFactory = _ => 3 };
        var vms = new Option<int>("--vms") { Description = "tiny VMs created before measuring (what list prints)", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "rounds, each one process run of every command (medians are reported)", DefaultValueFactory = _ => 10 };
        var accelerator = new Option<string>("--accelerator") { Description = "the nodes' accelerator: auto, kvm or software", DefaultValueFactory = _ => "auto" };
        var compare = new Option<string?>("--compare")
        {
            Description = "another actorvisor executable (e.g. the ReadyToRun publish) to time alternately with this one; its figures are cli.compare.*",
        };
        compare.Validators.Add(r => { if (r.GetValueOrDefault<string?>() is { } path && !File.Exists(path)) r.AddError($"--compare: {Path.GetFullPath(path)} does not exist"); });
        nodes.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 5) r.AddError("--nodes must be 1..5"); });
        vms.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 1000) r.AddError("--vms must be 1..1000"); });
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--rounds must be at least 5"); });
        var command = new Command("cli",
            "Time `actorvisor vm list` / `vm describe` process runs against a TLS+token loopback cluster, as a configured user runs them (the node's HTTP API) and as cluster client, next to `--version`; prints cli.*_p50_ms")
        {
            nodes, vms, rounds, accelerator, compare,
        };
        command.SetAction(async (parse, ct) =>
        {
            var figures = await CliBenchmark.RunAsync(parse.GetValue(nodes), parse.GetValue(vms), parse.GetValue(rounds), parse.GetValue(accelerator)!, Console.Error,
                parse.GetValue(compare) is { } other ? Path.GetFullPath(other) : null);
            foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
