using Actorvisor.Host.Api;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The serializer of the node-to-node protocol (id <see cref="Id"/>), bound to <see cref="IClusterProtocolMessage"/>
/// (<see cref="ClusterSerialization.Hocon"/>). Manifests are "cluster.v1.&lt;message&gt;".
/// </summary>
public sealed class ClusterProtocolSerializer(ExtendedActorSystem system) : JsonManifestSerializer(system, Types)
{
    /// <summary>The serializer id.</summary>
    public const int Id = 7302;

    /// <summary>The largest message (an announcement of a node with thousands of VMs fits).</summary>
    public const int MaxBytes = 4 * 1024 * 1024;

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <summary>Every protocol message with its manifest.</summary>
    public static IReadOnlyList<MessageType> Types { get; } =
    [
        Of<NodeInfo>("node-info"),
        Of<NodeAnnouncement>("node-announcement"),
        Of<AnnounceNode>("announce-node"),
        Of<AnnouncementAccepted>("announcement-accepted"),
        Of<VmRecordChanged>("vm-record-changed"),
        Of<CreateOnNode>("create-on-node"),
        Of<CreateOnNodeResult>("create-on-node-result"),
        Of<DestroyOnNode>("destroy-on-node"),
        Of<DestroyOnNodeResult>("destroy-on-node-result"),
        Of<DirectorySnapshot>("directory-snapshot"),
        Of<DirectorySnapshotDelta>("directory-snapshot-delta"),
        Of<SnapshotStored>("snapshot-stored"),
        Of<ReportNodeVms>("report-node-vms"),
        Of<NodeVmsReport>("node-vms-report"),
        Of<FollowVmLoss>("follow-vm-loss"),
        Of<FindSnapshot>("find-snapshot"),
        Of<SnapshotHeld>("snapshot-held"),
        Of<MigrateOnNode>("migrate-on-node"),
        Of<MigrateOnNodeResult>("migrate-on-node-result"),
        Of<PrepareArrival>("prepare-arrival"),
        Of<ArrivalPrepared>("arrival-prepared"),
        Of<MigrationUpdate>("migration-update"),
        Of<MigrationEndRecorded>("migration-end-recorded"),
        Of<VmArrived>("vm-arrived"),
        Of<MigrationArrivalRecorded>("migration-arrival-recorded"),
        Of<CancelMigrationOnNode>("cancel-migration-on-node"),
        Of<HandOverSubscribers>("hand-over-subscribers"),
    ];

    private static MessageType Of<T>(string name) where T : IClusterProtocolMessage => new(typeof(T), "cluster.v1." + name, MaxBytes);
}
