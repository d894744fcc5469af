using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Tests.Cluster;

public sealed class MigrationPlacementTests
{
    private static readonly NodeLoad[] Loads =
    [
        new("n1", "akka.tcp://c@h:1", 8, 1, 256UL << 20, 32UL << 20),
        new("n2", "akka.tcp://c@h:2", 8, 0, 256UL << 20, 0),
        new("n3", "akka.tcp://c@h:3", 8, 0, 256UL << 20, 0),
        new("k1", "akka.tcp://c@h:4", 8, 0, 1UL << 30, 0),
    ];

    private static readonly Dictionary<string, string> Kinds = new() { ["n1"] = "software", ["n2"] = "software", ["n3"] = "software", ["k1"] = "kvm" };

    private static PlacementResult Choose(string? to, ulong memory = 32UL << 20, IReadOnlyCollection<NodeLoad>? loads = null) =>
        MigrationPlacement.Choose(loads ?? Loads, Kinds, "vm", 1, memory, "n1", to);

    [Fact]
    public void Without_a_target_placement_picks_another_node_of_the_same_accelerator_kind()
    {
        // k1 has the most free memory but runs KVM; n2 and n3 tie, n2 wins by name.
        Assert.Equal("n2", Choose(null).Node!.Name);
    }

    [Fact]
    public void A_named_target_of_the_same_kind_with_room_is_taken()
    {
        Assert.Equal("n3", Choose("n3").Node!.Name);
    }

    [Fact]
    public void A_target_of_another_accelerator_kind_is_refused_naming_both()
    {
        var error = Choose("k1").Error!;
        Assert.Equal((ApiErrorCode.InvalidRequest, "to"), (error.Code, error.Field));
        Assert.Contains("kvm", error.Message);
        Assert.Contains("software", error.Message);
    }

    [Fact]
    public void The_vms_own_node_an_unknown_node_and_a_node_without_room_are_refused_on_the_field_to()
    {
        Assert.Equal((ApiErrorCode.InvalidRequest, "to"), (Choose("n1").Error!.Code, Choose("n1").Error!.Field));
        Assert.Equal((ApiErrorCode.NotFound, "to"), (Choose("n9").Error!.Code, Choose("n9").Error!.Field));
        var full = Choose("n2", memory: 300UL << 20).Error!;
        Assert.Equal((ApiErrorCode.NoCapacity, "to"), (full.Code, full.Field));
        Assert.StartsWith("node n2", full.Message);
    }

    [Fact]
    public void With_no_other_node_of_its_kind_there_is_no_target()
    {
        var error = Choose(null, loads: [Loads[0], Loads[3]]).Error!;
        Assert.Equal(ApiErrorCode.NoCapacity, error.Code);
        Assert.Contains("software", error.Message);
    }
}
