using System.CommandLine;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor cluster status`: the cluster's members, their capacity and load.</summary>
public static class ClusterCommand
{
    /// <summary>Builds the command tree.</summary>
    public static Command Create()
    {
        var connection = new ClusterConnectionOptions();
        var status = new Command("status", "Show the cluster's members, accelerators, capacity and load");
        connection.AddTo(status);
        status.SetAction((parse, ct) => ClusterCliRunner.RunAsync(parse, connection, async (client, json) =>
            ClusterCliRunner.Print<ClusterStatusReply>(await client.RequestAsync(new ClusterStatusRequest(), ct), json, Print)));
        return new Command("cluster", "Inspect an Actorvisor cluster") { status };
    }

    private static void Print(ClusterStatusReply s)
    {
        AnsiConsole.MarkupLine($"cluster [bold]{Markup.Escape(s.ClusterName)}[/], leader {Markup.Escape(s.Leader ?? "none")}, placement on {Markup.Escape(s.PlacementNode)}");
        var table = new Table().AddColumns("NODE", "ADDRESS", "STATUS", "ACCELERATOR", "VCPUS", "MEMORY", "VMS");
        foreach (var n in s.Nodes)
        {
            var status = n.Status switch
            {
                "Up" => "[green]Up[/]",
                "Unreachable" or "Down" => $"[red]{n.Status}[/]",
                _ => Markup.Escape(n.Status),
            };
            table.AddRow(Markup.Escape(n.Name), Markup.Escape(n.Address[(n.Address.IndexOf('@') + 1)..]), status, Markup.Escape(n.Accelerator ?? "-"),
                $"{n.UsedVcpus}/{n.Vcpus}", $"{ClusterCliRunner.Size(n.UsedMemoryBytes)}/{ClusterCliRunner.Size(n.MemoryBytes)}", n.VmCount.ToString());
        }
        AnsiConsole.Write(table);
        ClusterCliRunner.PrintUnanswered(s.UnansweredNodes, "their load is the directory's placement figures");
    }
}
