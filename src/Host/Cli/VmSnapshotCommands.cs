using System.CommandLine;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>
/// `actorvisor vm snapshot NAME --to SNAPSHOT [--resume]` and `actorvisor vm restore --from SNAPSHOT --name NEW
/// [--lazy|--eager|--mmap] [--on N]`: snapshots are named entries of the nodes' snapshot directories, never paths.
/// </summary>
public static class VmSnapshotCommands
{
    /// <summary>`vm snapshot`: writes a snapshot of a paused VM.</summary>
    public static Command Snapshot()
    {
        var name = new Argument<string>("name") { Description = "the VM's name (it must be paused)" };
        var to = new Option<string>("--to") { Description = "the snapshot's name in the node's snapshot directory (Node:SnapshotDirectories)", Required = true };
        var resume = new Option<bool>("--resume") { Description = "resume the VM once the snapshot is written" };
        var connection = new ClusterConnectionOptions();
        var command = new Command("snapshot", "Write a snapshot of a paused VM into its node's snapshot directory") { name, to, resume };
        connection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var request = new SnapshotVmRequest(parse.GetValue(name)!, parse.GetValue(to)!, parse.GetValue(resume));
            if (ApiValidator.Validate(request) is { } invalid) return Task.FromResult(Usage(invalid.Field == "to" ? "--to" + invalid.Message[2..] : invalid.Message));
            return ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            {
                var reply = await ClusterCliRunner.WithProgress(json, $"Writing snapshot {request.To} of VM {request.Name}...", () => client.RequestAsync(request, ct));
                return ClusterCliRunner.Print<SnapshotReply>(reply, json, s =>
                    AnsiConsole.MarkupLine($"Snapshot [bold]{Markup.Escape(s.Snapshot)}[/] of VM [bold]{Markup.Escape(s.Name)}[/] on {Markup.Escape(s.Node)}: " +
                        $"{Markup.Escape(s.Directory)}, {ClusterCliRunner.Size(s.MemoryBytes)} of memory, {ClusterCliRunner.Size(s.BytesOnDisk)} on disk, " +
                        $"written in {s.WriteMs} ms{(s.Resumed ? "; the VM runs again" : "")}"));
            });
        });
        return command;
    }

    /// <summary>`vm restore`: creates a VM from a snapshot.</summary>
    public static Command Restore()
    {
        var from = new Option<string>("--from") { Description = "the snapshot's name in the node's snapshot directories", Required = true };
        var name = new Option<string>("--name") { Description = "the new VM's name", Required = true };
        var lazy = new Option<bool>("--lazy") { Description = "memory is fetched on first touch by the async-PF workers (the default)" };
        var eager = new Option<bool>("--eager") { Description = "all memory is read before the VM runs" };
        var mmap = new Option<bool>("--mmap") { Description = "memory is a private mapping of the snapshot's file" };
        // --on, as vm create has it: --node is the cluster contact of every cluster command.
        var node = new Option<string?>("--on") { Description = "the node to restore on (default: placement picks one of the nodes that hold the snapshot)" };
        var start = new Option<bool>("--start") { Description = "start it once restored" };
        var cpuLimit = new Option<double?>("--cpu-limit") { Description = "the most CPU time its vCPUs may use together, in CPUs (e.g. 0.5: half a core; default: no limit)" };
        var connection = new ClusterConnectionOptions();
        var command = new Command("restore", "Create a VM from a snapshot (state Created; --start runs it)") { from, name, lazy, eager, mmap, node, start, cpuLimit };
        connection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var modes = new[] { (lazy, "lazy"), (eager, "eager"), (mmap, "mmap") }.Where(m => parse.GetValue(m.Item1)).Select(m => m.Item2).ToList();
            if (modes.Count > 1) return Task.FromResult(Usage("give at most one of --lazy, --eager and --mmap"));
            var request = new RestoreVmRequest(parse.GetValue(name)!, parse.GetValue(from)!, modes.FirstOrDefault() ?? "lazy", parse.GetValue(node), parse.GetValue(cpuLimit));
            if (ApiValidator.Validate(request) is { } invalid) return Task.FromResult(Usage(invalid.Field is { } f ? "--" + (f switch { "node" => "on", "cpuLimit" => "cpu-limit", _ => f }) + invalid.Message[f.Length..] : invalid.Message));
            return ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            {
                var reply = await ClusterCliRunner.WithProgress(json, $"Restoring VM {request.Name} from snapshot {request.From} ({request.Mode})...", () => client.RequestAsync(request, ct));
                if (reply is VmReply && parse.GetValue(start))
                    reply = await ClusterCliRunner.WithProgress(json, $"Starting VM {request.Name}...", () => client.RequestAsync(new StartVmRequest(request.Name), ct));
                return ClusterCliRunner.Print<VmReply>(reply, json, v =>
                    AnsiConsole.MarkupLine($"VM [bold]{Markup.Escape(v.Vm.Name)}[/] on {Markup.Escape(v.Vm.Node)}: {v.Vm.Status}, {v.Vm.Vcpus} vCPU(s), {ClusterCliRunner.Size(v.Vm.MemoryBytes)}"));
            });
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"actorvisor: {message}");
        return ExitCodes.Usage;
    }
}
