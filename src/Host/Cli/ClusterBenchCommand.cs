using System.CommandLine;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor bench api`: tiny VMs created through the API of a loopback cluster of --nodes nodes it starts itself.</summary>
public static class ClusterBenchCommand
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = $"nodes of the loopback cluster (2..{ApiBenchmark.MaxNodes}), each its own process", DefaultValueFactory = _ => 3 };
        nodes.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 2 or > ApiBenchmark.MaxNodes) r.AddError($"--nodes must be 2..{ApiBenchmark.MaxNodes}"); });
        var count = new Option<int>("--vms") { Description = "VMs to create", DefaultValueFactory = _ => 1000 };
        var warmup = new Option<int>("--warmup") { Description = "creates before measuring (JIT, connections)", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "rounds the creates are split into, each next to a baseline batch (medians are reported)", DefaultValueFactory = _ => 5 };
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--rounds must be at least 5"); });
        var accelerator = new Option<string>("--accelerator") { Description = "the nodes' accelerator: auto, kvm or software", DefaultValueFactory = _ => "auto" };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--vms must be at least 5 (one per round)"); });
        warmup.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--warmup must not be negative"); });
        var command = new Command("api", "Create tiny VMs through the API on a loopback cluster of --nodes processes; prints api.join_s, api.creates_per_s, api.p99_ms, api.event_lag_p99_ms, api.node_rss_mib, ...")
        {
            nodes, count, warmup, rounds, accelerator,
        };
        command.SetAction(async (parse, ct) =>
        {
            var figures = await ApiBenchmark.RunAsync(parse.GetValue(nodes), parse.GetValue(count), parse.GetValue(warmup), parse.GetValue(rounds), parse.GetValue(accelerator)!, Console.Error);
            foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
