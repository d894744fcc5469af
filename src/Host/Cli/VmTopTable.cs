using System.Globalization;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>The table `vm top` shows: one row per VM with its state, uptime, exits and restart count, and a caption counting them.</summary>
public static class VmTopTable
{
    /// <summary>The table of <paramref name="list"/> as seen at <paramref name="now"/>.</summary>
    public static Table Build(VmListReply list, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(list);
        // The name, node, state, uptime and exits are never wrapped inside their cells: a console too narrow for every
        // column (80 wide when redirected) wraps the columns after them instead.
        var table = new Table();
        foreach (var whole in new[] { "NAME", "NODE", "STATUS", "UPTIME", "EXITS" }) table.AddColumn(new TableColumn(whole).NoWrap());
        table.AddColumns("VCPUS", "MEMORY", "RESTARTS", "OUTCOME");
        foreach (var vm in list.Vms.OrderBy(v => v.Node, StringComparer.Ordinal).ThenBy(v => v.Name, StringComparer.Ordinal))
        {
            table.AddRow(Markup.Escape(vm.Name), Markup.Escape(vm.Node), VmCommand.StatusMarkup(vm.Status), Uptime(vm, now), Exits(vm),
                vm.Vcpus.ToString(CultureInfo.InvariantCulture), ClusterCliRunner.Size(vm.MemoryBytes),
                vm.Restarts?.ToString(CultureInfo.InvariantCulture) ?? "-", Markup.Escape(vm.Outcome ?? ""));
        }
        int running = list.Vms.Count(v => v.Status == VmStatus.Running);
        var caption = $"{list.Vms.Count} VMs, {running} running, at {now.ToLocalTime():HH:mm:ss}";
        if (list.UnansweredNodes is { Count: > 0 } missing) caption += $"; [yellow]no answer from {Markup.Escape(string.Join(", ", missing))}[/]";
        return table.Caption(caption);
    }

    /// <summary>The VM's exits as its node counted them, with thousands separators ("-" when its node did not say).</summary>
    public static string Exits(VmInfo vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return vm.Exits?.ToString("#,0", CultureInfo.InvariantCulture) ?? "-";
    }

    /// <summary>How long a running or paused VM has been up ("-" for any other state or when its start is unknown).</summary>
    public static string Uptime(VmInfo vm, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(vm);
        if (vm.Status is not (VmStatus.Running or VmStatus.Paused) || vm.StartedAt is not { } started) return "-";
        var up = now - started;
        if (up < TimeSpan.Zero) up = TimeSpan.Zero;
        return up.Days > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{up.Days}d {up:hh\\:mm\\:ss}")
            : up.ToString("hh\\:mm\\:ss", CultureInfo.InvariantCulture);
    }
}
