using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>The uptime column of `vm top`: shown for running and paused VMs only, with days past 24 hours; the exits column.</summary>
public sealed class VmTopTableTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static VmInfo Vm(VmStatus status, DateTimeOffset? startedAt) => new("a", "n1", status, 1, 1 << 20, "hello", null, 0, startedAt);

    [Fact]
    public void Uptime_counts_from_the_start_of_a_running_or_paused_vm()
    {
        Assert.Equal("00:01:05", VmTopTable.Uptime(Vm(VmStatus.Running, Now.AddSeconds(-65)), Now));
        Assert.Equal("02:00:00", VmTopTable.Uptime(Vm(VmStatus.Paused, Now.AddHours(-2)), Now));
        Assert.Equal("3d 04:05:06", VmTopTable.Uptime(Vm(VmStatus.Running, Now - new TimeSpan(3, 4, 5, 6)), Now));
    }

    [Fact]
    public void Uptime_is_a_dash_when_the_vm_is_not_up_or_its_start_is_unknown()
    {
        Assert.Equal("-", VmTopTable.Uptime(Vm(VmStatus.Stopped, Now.AddSeconds(-65)), Now));
        Assert.Equal("-", VmTopTable.Uptime(Vm(VmStatus.Created, null), Now));
        Assert.Equal("-", VmTopTable.Uptime(Vm(VmStatus.Running, null), Now));
    }

    [Fact]
    public void Exits_are_the_nodes_count_with_separators_or_a_dash_when_not_reported()
    {
        Assert.Equal("1,234,567", VmTopTable.Exits(Vm(VmStatus.Running, Now) with { Exits = 1_234_567 }));
        Assert.Equal("0", VmTopTable.Exits(Vm(VmStatus.Created, null) with { Exits = 0 }));
        Assert.Equal("-", VmTopTable.Exits(Vm(VmStatus.Running, Now)));
        var table = VmTopTable.Build(new VmListReply([Vm(VmStatus.Running, Now.AddSeconds(-5)) with { Exits = 1_234_567 }]), Now);
        var text = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(text) });
        console.Profile.Width = 80; // a console as narrow as a redirected one: uptime and exits stay whole
        console.Write(table);
        Assert.Contains("EXITS", text.ToString());
        Assert.Contains("1,234,567", text.ToString());
        Assert.Contains("00:00:05", text.ToString());
    }
}
