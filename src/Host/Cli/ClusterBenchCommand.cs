using System.CommandLine;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor bench api`: 1,000 tiny VMs created through the API of a 3-node loopback cluster it starts itself.</summary>
public static class ClusterBenchCommand
{
    /// <summary>Builds the subcommand.</summary>
    public static Command Create()
    {
        var count = new Option<int>("--vms") { Description = "VMs to create", DefaultValueFactory = _ => 1000 };
        var warmup = new Option<int>("--warmup") { Description = "creates before measuring (JIT, connections)", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "rounds the creates are split into, each next to a baseline batch (medians are reported)", DefaultValueFactory = _ => 5 };
        rounds.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--rounds must be at least 5"); });
        var accelerator = new Option<string>("--accelerator") { Description = "the nodes' accelerator: auto, kvm or software", DefaultValueFactory = _ => "auto" };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 5) r.AddError("--vms must be at least 5 (one per round)"); });
        warmup.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--warmup must not be negative"); });
        var command = new Command("api", "Create 1,000 tiny VMs through the API on a 3-node loopback cluster; prints api.total_s, api.p50_ms, api.p99_ms")
        {
            count, warmup, rounds, accelerator,
        };
        command.SetAction(async (parse, ct) =>
        {
            var figures = await ApiBenchmark.RunAsync(parse.GetValue(count), parse.GetValue(warmup), parse.GetValue(rounds), parse.GetValue(accelerator)!, Console.Error);
            foreach (var (key, value) in figures) Console.WriteLine($"{key}: {value}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
