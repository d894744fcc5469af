using System.Runtime.Serialization;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;
using Akka.Configuration;

namespace Actorvisor.Host.Tests.Cluster;

public sealed class ClusterProtocolSerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("cluster-protocol-test", ConfigurationFactory.ParseString(
        ApiSerialization.Hocon + "\n" + ClusterSerialization.Hocon + "\nakka.loglevel = OFF\nakka.stdout-loglevel = OFF"));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Fact]
    public void Every_protocol_message_round_trips_through_its_own_serializer()
    {
        var agent = _system.ActorOf(Props.Empty, "agent");
        var vm = new VmInfo("a", "n1", VmStatus.Running, 1, 1UL << 20, "hello", null);
        var info = new NodeInfo("n1", "akka.tcp://c@h:1", "kvm", "KVM (API 12)", 8, 1UL << 30);
        var snapshot = new DirectorySnapshot(DateTimeOffset.UtcNow, [VmLocation.Of(vm, "akka.tcp://c@h:1"), new VmLocation("b", "n1", "akka.tcp://c@h:1", 1, 1UL << 20, "hello", false, VmStatus.Lost, "node n1 was downed")],
            [new EventSubscription(null, agent), new EventSubscription("a", agent), new EventSubscription("a", agent, LossOnly: true)]);
        var migration = new MigrationInfo("m-1", "a", "n1", "n2", MigrationInfo.Running, DateTimeOffset.UtcNow, null, 2, 10, 300.5, 1e8, 0.4, 1UL << 20);
        IClusterProtocolMessage[] samples =
        [
            info, new NodeAnnouncement(info, agent, [vm], snapshot), AnnounceNode.Instance, new VmRecordChanged(vm),
            new CreateOnNode(new ApiVmSpec("a", 1, 1UL << 20, "hello"), 27_000), new CreateOnNodeResult("a", vm, null),
            new CreateOnNodeResult("a", null, new ApiErrorReply(ApiErrorCode.NoCapacity, "full")), new DestroyOnNode("a", 27_000),
            new DestroyOnNodeResult("a", vm, null), snapshot, new SnapshotStored(snapshot.Taken), new AnnouncementAccepted("n1"),
            snapshot with { Sequence = 7, Epoch = "e1" }, new DirectorySnapshotDelta("e1", 8, DateTimeOffset.UtcNow, [VmLocation.Of(vm, "akka.tcp://c@h:1")], ["b"], null),
            new DirectorySnapshotDelta("e1", 9, DateTimeOffset.UtcNow, [], [], snapshot.Subscriptions), new SnapshotStored(snapshot.Taken, 9, NeedsWhole: true),
            new VmRecordChanged(vm, VmStatus.Created), new ReportNodeVms(9_000), new NodeVmsReport("n1", [vm], 1, 1UL << 20), new FollowVmLoss("a", agent, "akka.tcp://c@h:1"),
            new FindSnapshot("s1"), new SnapshotHeld("n1", "s1", true),
            new MigrateOnNode("m-1", "a", "n2", agent, 100, 27_000), new MigrateOnNode("m-2", "a", "n3", agent, null, 27_000, "always", 1_000_000), new MigrateOnNodeResult("a", migration, null),
            new MigrateOnNodeResult("a", null, new ApiErrorReply(ApiErrorCode.NoCapacity, "full")), new PrepareArrival("m-1", new ApiVmSpec("a", 1, 1UL << 20, "hello"), "software", "n1"),
            new ArrivalPrepared("m-1", "127.0.0.1", 40000, null), new MigrationUpdate(migration with { Status = MigrationInfo.Failed, Reason = "reset" }),
            new MigrationEndRecorded("m-1"),
            new VmArrived("m-1", vm), new MigrationArrivalRecorded("m-1", "a"), new CancelMigrationOnNode("a"), new HandOverSubscribers("a", [agent], [agent], [1, 2, 3]),
        ];
        Assert.Equal(ClusterProtocolSerializer.Types.Select(t => t.Type).ToHashSet(), samples.Select(s => s.GetType()).ToHashSet());
        foreach (var sample in samples)
        {
            var serializer = Assert.IsType<ClusterProtocolSerializer>(_system.Serialization.FindSerializerFor(sample));
            var bytes = serializer.ToBinary(sample);
            var back = serializer.FromBinary(bytes, serializer.Manifest(sample));
            Assert.Equal(bytes, serializer.ToBinary(back));
        }
        var snapshots = (ClusterProtocolSerializer)_system.Serialization.FindSerializerFor(snapshot);
        var restored = (DirectorySnapshot)snapshots.FromBinary(snapshots.ToBinary(snapshot), "cluster.v1.directory-snapshot");
        Assert.Equal(snapshot.Taken, restored.Taken);
        Assert.Equal(agent, restored.Subscriptions[1].Subscriber);
        Assert.True(restored.Subscriptions[2].LossOnly);
        Assert.Equal(snapshot.Vms, restored.Vms);
    }

    [Fact]
    public void Garbage_is_rejected()
    {
        var serializer = (ClusterProtocolSerializer)_system.Serialization.FindSerializerForType(typeof(IClusterProtocolMessage));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([1, 2, 3], "cluster.v1.node-announcement"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "cluster.v2.node-announcement"));
    }
}
