using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Akka.TestKit.Xunit2;

namespace Actorvisor.Actors.Tests.Registry;

/// <summary>What the node refuses before any hardware is built.</summary>
public class NodeAdmissionTests : TestKit
{
    private static VmParts FailingBuild(VmBuildContext _) => throw new InvalidOperationException("no such guest image 'missing.bin'");

    [Fact]
    public void A_request_for_more_vcpus_than_the_node_has_is_refused_naming_the_resource()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(Vcpus: 4, MemoryBytes: 1UL << 30)));
        node.Tell(new CreateVm(new VmActorSpec("big", 5, 1 << 20, FailingBuild)));
        var refused = ExpectMsg<NodeRequestFailed>();
        var error = Assert.IsType<VmRegistryError.InsufficientCapacity>(refused.Error);
        Assert.Equal(("vcpus", 5UL, 4UL, 4UL), (error.Resource, error.Requested, error.Available, error.Total));
    }

    [Fact]
    public void A_request_for_more_memory_than_the_node_has_is_refused()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(Vcpus: 4, MemoryBytes: 64UL << 20)));
        node.Tell(new CreateVm(new VmActorSpec("big", 1, 128UL << 20, FailingBuild)));
        var error = Assert.IsType<VmRegistryError.InsufficientCapacity>(ExpectMsg<NodeRequestFailed>().Error);
        Assert.Equal("memory bytes", error.Resource);
        Assert.Contains("requested 134217728, available 67108864", error.Message);
    }

    [Fact]
    public void An_invalid_spec_is_refused_naming_the_field()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(4, 1UL << 30)));
        node.Tell(new CreateVm(new VmActorSpec("has space", 1, 1 << 20, FailingBuild)));
        var error = Assert.IsType<VmRegistryError.InvalidSpec>(ExpectMsg<NodeRequestFailed>().Error);
        Assert.StartsWith("name:", error.Problem);
    }

    [Fact]
    public void A_build_failure_is_a_typed_create_error_and_frees_the_name_and_the_capacity()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(2, 1UL << 30)));
        node.Tell(new CreateVm(new VmActorSpec("broken", 2, 1 << 20, FailingBuild)));
        var error = Assert.IsType<VmRegistryError.CreateFailed>(ExpectMsg<NodeRequestFailed>().Error);
        Assert.Contains("missing.bin", error.Reason);

        node.Tell(ListVms.Instance);
        Assert.Empty(ExpectMsg<VmList>().Vms);
        node.Tell(GetNodeUsage.Instance);
        Assert.Equal(0, ExpectMsg<NodeUsage>().UsedVcpus);
        // The same name can be tried again at once.
        node.Tell(new CreateVm(new VmActorSpec("broken", 2, 1 << 20, FailingBuild)));
        Assert.IsType<VmRegistryError.CreateFailed>(ExpectMsg<NodeRequestFailed>().Error);
    }

    [Fact]
    public void Unknown_vms_are_reported_by_name()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(2, 1UL << 30)));
        node.Tell(new DescribeVm("ghost"));
        Assert.Equal(new VmRegistryError.UnknownVm("ghost"), ExpectMsg<NodeRequestFailed>().Error);
        node.Tell(new DestroyVm("ghost"));
        Assert.Equal(new VmRegistryError.UnknownVm("ghost"), ExpectMsg<NodeRequestFailed>().Error);
    }

    [Fact]
    public void A_shutting_down_node_creates_nothing()
    {
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(2, 1UL << 30)));
        node.Tell(ShutdownNode.Instance);
        Assert.Equal(0, ExpectMsg<NodeShutDown>().VmsDestroyed);
        node.Tell(new CreateVm(new VmActorSpec("late", 1, 1 << 20, FailingBuild)));
        Assert.IsType<VmRegistryError.ShuttingDown>(ExpectMsg<NodeRequestFailed>().Error);
    }
}
