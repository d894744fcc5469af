using System.Globalization;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// What `vm list` and `vm describe` print for a person (the VM table, the detail grid, the nodes that did not answer),
/// the same whether the reply came through the cluster client or a node's HTTP API. Plain text with ANSI colours on a
/// terminal (none when the output is redirected, NO_COLOR is set or TERM is dumb); no console library, so the quick
/// HTTP path (<see cref="QuickVmCommandLine"/>) loads none.
/// </summary>
public static class VmTables
{
    /// <summary>True when stdout is a terminal that takes colours.</summary>
    public static bool ColorOut => !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null
        && Environment.GetEnvironmentVariable("TERM") != "dumb";

    /// <summary>Prints the VMs of <paramref name="list"/> as a table, and the nodes that did not answer.</summary>
    public static void PrintList(VmListReply list)
    {
        ArgumentNullException.ThrowIfNull(list);
        bool color = ColorOut;
        var output = Console.Out;
        if (list.Vms.Count == 0)
        {
            output.Write(Colored("no VMs", "90", color) + "\n");
        }
        else
        {
            var table = new TextTable("NAME", "NODE", "STATUS", "VCPUS", "MEMORY", "IMAGE", "RESTARTS", "OUTCOME");
            foreach (var vm in list.Vms)
            {
                table.AddRow((vm.Name, null), (vm.Node, null), (vm.Status.ToString(), StatusColor(vm.Status)), (Number(vm.Vcpus), null),
                    (ByteSize.Print(vm.MemoryBytes), null), (vm.Image, null), (vm.Restarts is { } r ? Number(r) : "-", null), (vm.Outcome ?? "", null));
            }
            output.Write(table.Render(color));
        }
        PrintUnanswered(list.UnansweredNodes, "their VMs are not listed");
        output.Flush();
    }

    /// <summary>Prints one VM in detail: a name and a value a line.</summary>
    public static void PrintDescription(VmDescriptionReply d)
    {
        ArgumentNullException.ThrowIfNull(d);
        bool color = ColorOut;
        (string Key, string Value, string? Color)[] rows =
        [
            ("Name", d.Vm.Name, null),
            ("Node", $"{d.Vm.Node} ({d.NodeAddress})", null),
            ("Status", d.Vm.Status.ToString(), StatusColor(d.Vm.Status)),
            ("vCPUs", Number(d.Vm.Vcpus), null),
            ("Memory", ByteSize.Print(d.Vm.MemoryBytes), null),
            ("Image", d.Vm.Image, null),
            ("Runs", d.Description, null),
            ("Devices", string.Join(", ", d.Devices), null),
            ("Memslots", Number(d.MemslotCount), null),
            ("Restarts", d.Vm.Restarts is { } r ? Number(r) : "-", null),
            ("Outcome", d.Vm.Outcome ?? "-", null),
        ];
        int keyWidth = rows.Max(r => r.Key.Length);
        var text = new System.Text.StringBuilder();
        foreach (var (key, value, sgr) in rows)
            text.Append(Colored(key, "1", color)).Append(' ', keyWidth - key.Length + 2).Append(Colored(value, sgr, color)).Append('\n');
        Console.Out.Write(text.ToString());
        Console.Out.Flush();
    }

    /// <summary>Names the nodes that did not answer in time (nothing when every node did); <paramref name="consequence"/> says what that leaves out.</summary>
    public static void PrintUnanswered(IReadOnlyList<string>? nodes, string consequence)
    {
        if (nodes is { Count: > 0 })
            Console.Out.Write(Colored($"no answer in time from: {string.Join(", ", nodes)} ({consequence})", "33", ColorOut) + "\n");
    }

    /// <summary>The ANSI colour (SGR parameters) of a status: running green, paused yellow, failed red, lost bold red.</summary>
    public static string? StatusColor(VmStatus status) => status switch
    {
        VmStatus.Running => "32",
        VmStatus.Paused => "33",
        VmStatus.Failed => "31",
        VmStatus.Lost => "1;31",
        _ => null,
    };

    private static string Colored(string text, string? sgr, bool color) => color && sgr is not null ? $"\e[{sgr}m{text}\e[0m" : text;

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
