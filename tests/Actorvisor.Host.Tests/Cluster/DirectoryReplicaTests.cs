using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;

namespace Actorvisor.Host.Tests.Cluster;

public class DirectoryReplicaTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static VmLocation At(string name, string node) => new(name, node, $"akka.tcp://c@h:{node.Length}", 1, 1UL << 20, "hello", true);

    private static DirectorySnapshot Whole(long sequence, string epoch = "e1") =>
        new(T0, [At("x", "n1"), At("y", "n2")], [new EventSubscription(null, ActorRefs.Nobody)], sequence, epoch);

    [Fact]
    public void A_delta_that_follows_the_copy_moves_it_forward_and_leaves_the_old_copy_as_it_was()
    {
        var first = DirectoryReplica.Of(Whole(5));
        var delta = new DirectorySnapshotDelta("e1", 6, T0.AddSeconds(1), [At("y", "n3"), At("z", "n1")], ["x"], null);
        var next = first.Apply(delta)!;

        Assert.Equal(6, next.Sequence);
        Assert.Equal(T0.AddSeconds(1), next.Taken);
        Assert.Equal(["y", "z"], next.Vms.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("n3", next.Vms["y"].Node);
        Assert.Same(first.Subscriptions, next.Subscriptions);
        Assert.Equal(["x", "y"], first.Vms.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("n2", first.Vms["y"].Node);

        var subscriptions = new[] { new EventSubscription("z", ActorRefs.Nobody, LossOnly: true) };
        var third = next.Apply(new DirectorySnapshotDelta("e1", 7, T0.AddSeconds(2), [], [], subscriptions))!;
        Assert.Equal(subscriptions, third.Subscriptions);
        Assert.Equal(third.Vms.Count, third.ToSnapshot().Vms.Count);
        Assert.Equal((7L, "e1"), (third.ToSnapshot().Sequence, third.ToSnapshot().Epoch));
    }

    [Fact]
    public void A_delta_that_does_not_follow_the_copy_is_not_applied()
    {
        var replica = DirectoryReplica.Of(Whole(5));
        Assert.Null(replica.Apply(new DirectorySnapshotDelta("e1", 7, T0, [], [], null)));
        Assert.Null(replica.Apply(new DirectorySnapshotDelta("e2", 6, T0, [], [], null)));
        Assert.Null(replica.Apply(new DirectorySnapshotDelta("e1", 5, T0, [], [], null)));
        Assert.True(replica.Covers(new DirectorySnapshotDelta("e1", 5, T0, [], [], null)));
        Assert.False(replica.Covers(new DirectorySnapshotDelta("e1", 6, T0, [], [], null)));
        Assert.False(replica.Covers(new DirectorySnapshotDelta("e2", 4, T0, [], [], null)));
    }
}
