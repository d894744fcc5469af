using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Tests.Cluster;

public class PlacementTests
{
    private const ulong Mib = 1UL << 20;

    private static NodeLoad Node(string name, int usedVcpus, ulong usedMib, int vcpus = 8, ulong mib = 1024) =>
        new(name, $"akka.tcp://c@h:{name.Length}", vcpus, usedVcpus, mib * Mib, usedMib * Mib);

    private static ApiVmSpec Spec(int vcpus = 1, ulong mib = 64, string? node = null) => new("vm", vcpus, mib * Mib, "hello", Node: node);

    [Fact]
    public void The_node_with_the_most_free_memory_wins()
    {
        var chosen = Placement.Choose([Node("a", 0, 512), Node("b", 6, 100), Node("c", 0, 300)], Spec());
        Assert.Equal("b", chosen.Node!.Name);
    }

    [Fact]
    public void Ties_go_to_more_free_vcpus_then_the_name()
    {
        Assert.Equal("b", Placement.Choose([Node("a", 4, 0), Node("b", 1, 0)], Spec()).Node!.Name);
        Assert.Equal("a", Placement.Choose([Node("b", 0, 0), Node("a", 0, 0)], Spec()).Node!.Name);
    }

    [Fact]
    public void A_node_without_enough_vcpus_is_skipped_even_with_more_memory()
    {
        Assert.Equal("a", Placement.Choose([Node("a", 4, 900), Node("b", 8, 0)], Spec(vcpus: 2)).Node!.Name);
    }

    [Fact]
    public void Equal_vms_spread_over_equal_nodes()
    {
        var nodes = new List<NodeLoad> { Node("a", 0, 0), Node("b", 0, 0), Node("c", 0, 0) };
        var picks = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            var n = Placement.Choose(nodes, Spec()).Node!;
            picks.Add(n.Name);
            nodes[nodes.IndexOf(n)] = n with { UsedVcpus = n.UsedVcpus + 1, UsedMemoryBytes = n.UsedMemoryBytes + 64 * Mib };
        }
        Assert.Equal(["a", "b", "c", "a", "b", "c"], picks);
    }

    [Fact]
    public void No_fit_is_a_clear_no_capacity_error_listing_what_is_free()
    {
        var r = Placement.Choose([Node("a", 0, 1000), Node("b", 8, 0)], Spec(vcpus: 1, mib: 100));
        Assert.Null(r.Node);
        Assert.Equal(ApiErrorCode.NoCapacity, r.Error!.Code);
        Assert.Contains("a (8 vCPUs, 24 MiB free)", r.Error.Message);
        Assert.Contains("b (0 vCPUs, 1024 MiB free)", r.Error.Message);
    }

    [Fact]
    public void An_explicit_node_is_used_only_if_it_fits()
    {
        Assert.Equal("b", Placement.Choose([Node("a", 0, 0), Node("b", 0, 900)], Spec(node: "b")).Node!.Name);
        var full = Placement.Choose([Node("a", 0, 0), Node("b", 0, 1000)], Spec(node: "b"));
        Assert.Equal((ApiErrorCode.NoCapacity, "spec.node"), (full.Error!.Code, full.Error.Field));
        var unknown = Placement.Choose([Node("a", 0, 0)], Spec(node: "z"));
        Assert.Equal((ApiErrorCode.NotFound, "spec.node"), (unknown.Error!.Code, unknown.Error.Field));
    }

    [Fact]
    public void No_nodes_at_all_is_node_unavailable()
    {
        Assert.Equal(ApiErrorCode.NodeUnavailable, Placement.Choose([], Spec()).Error!.Code);
    }
}
