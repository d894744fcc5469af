using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Tests.Cluster;

public class DirectoryTableTests
{
    private const ulong Mib = 1UL << 20;
    private static readonly Address A = Address.Parse("akka.tcp://c@h:1");
    private static readonly Address B = Address.Parse("akka.tcp://c@h:2");

    private static DirectoryTable TableOfTwoNodes()
    {
        var table = new DirectoryTable(NoLogger.Instance);
        table.AddNode(new NodeInfo("a", A.ToString(), "software", "Unicorn", 8, 1024 * Mib), A, ActorRefs.Nobody);
        table.AddNode(new NodeInfo("b", B.ToString(), "software", "Unicorn", 8, 1024 * Mib), B, ActorRefs.Nobody);
        return table;
    }

    private static DirectoryVm Vm(string name, Address at, int vcpus = 1, ulong mib = 64, bool holds = true, VmStatus? marker = null) =>
        new(new VmLocation(name, at == A ? "a" : "b", at.ToString(), vcpus, mib * Mib, "hello", holds, marker), at);

    private static List<NodeLoad> Loads(DirectoryTable table) =>
        table.Nodes.Values.Select(n => new NodeLoad(n.Info.Name, n.Address.ToString(), n.Info.Vcpus, table.TotalsOf(n.Address).HeldVcpus,
            n.Info.MemoryBytes, table.TotalsOf(n.Address).HeldMemoryBytes)).ToList();

    [Fact]
    public void Each_nodes_totals_follow_its_entries_as_they_change()
    {
        var table = TableOfTwoNodes();
        table.Set(Vm("x", A, vcpus: 2, mib: 100));
        table.Set(Vm("y", A, vcpus: 1, mib: 50));
        table.Set(Vm("z", B, vcpus: 4, mib: 10, holds: false));
        Assert.Equal((3, 150 * Mib, 2), (table.TotalsOf(A).HeldVcpus, table.TotalsOf(A).HeldMemoryBytes, table.TotalsOf(A).Vms));
        Assert.Equal((0, 0UL, 1), (table.TotalsOf(B).HeldVcpus, table.TotalsOf(B).HeldMemoryBytes, table.TotalsOf(B).Vms));

        // A VM that stops holding its resources, one removed, and one that moves to the other node.
        table.Set(table.Vms["y"], table.Vms["y"].Location with { HoldsResources = false });
        Assert.True(table.Remove("x"));
        Assert.False(table.Remove("x"));
        table.Set(Vm("z", A, vcpus: 4, mib: 10));
        Assert.Equal((4, 10 * Mib, 2), (table.TotalsOf(A).HeldVcpus, table.TotalsOf(A).HeldMemoryBytes, table.TotalsOf(A).Vms));
        Assert.Equal((0, 0UL, 0), (table.TotalsOf(B).HeldVcpus, table.TotalsOf(B).HeldMemoryBytes, table.TotalsOf(B).Vms));
    }

    [Fact]
    public void A_lost_node_keeps_its_vms_counted_but_holding_nothing()
    {
        var table = TableOfTwoNodes();
        table.Set(Vm("x", B, vcpus: 2, mib: 100));
        table.Set(Vm("y", B, vcpus: 1, mib: 50, marker: VmStatus.Creating));
        var lost = table.RemoveNode(B, "was downed");
        Assert.Equal(["x", "y"], lost.Select(e => e.Location.Name).Order(StringComparer.Ordinal));
        Assert.All(lost, e => Assert.Equal(VmStatus.Lost, e.Location.Marker));
        Assert.Equal((0, 0UL, 2), (table.TotalsOf(B).HeldVcpus, table.TotalsOf(B).HeldMemoryBytes, table.TotalsOf(B).Vms));
        Assert.Equal(["x", "y"], table.Marked.Select(e => e.Location.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Placement_counts_vms_being_created_and_spreads_them()
    {
        var table = TableOfTwoNodes();
        var picks = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            Assert.Null(table.Place(new ApiVmSpec($"vm-{i}", 1, 64 * Mib, "hello"), () => Loads(table), out var node));
            picks.Add(node.Info.Name);
        }
        Assert.Equal(["a", "b", "a", "b"], picks);
        Assert.Equal(4, table.Marked.Count());
        Assert.Equal(ApiErrorCode.AlreadyExists, table.Place(new ApiVmSpec("vm-0", 1, 64 * Mib, "hello"), () => Loads(table), out _)!.Code);

        // Created: no longer marked, still holding.
        table.Set(table.Vms["vm-0"], table.Vms["vm-0"].Location with { Marker = null });
        Assert.Equal(3, table.Marked.Count());
        Assert.Equal(2, table.TotalsOf(A).HeldVcpus);
    }

    [Fact]
    public void Changes_are_taken_once_each_as_they_are_now()
    {
        var table = TableOfTwoNodes();
        table.Set(Vm("x", A));
        table.Set(Vm("y", A));
        table.Set(Vm("x", A, mib: 128));
        var (changed, removed) = table.TakeChanges();
        Assert.Equal(["x", "y"], changed.Select(l => l.Name).Order(StringComparer.Ordinal));
        Assert.Equal(128 * Mib, changed.Single(l => l.Name == "x").MemoryBytes);
        Assert.Empty(removed);

        table.Remove("y");
        table.Set(Vm("z", B));
        table.Remove("z");
        (changed, removed) = table.TakeChanges();
        Assert.Empty(changed);
        Assert.Equal(["y", "z"], removed.Order(StringComparer.Ordinal));
        Assert.Equal((0, 0), (table.TakeChanges().Changed.Count, table.TakeChanges().Removed.Count));
    }
}
