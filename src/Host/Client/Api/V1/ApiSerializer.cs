using Akka.Actor;

namespace Actorvisor.Host.Api.V1;

/// <summary>
/// The serializer of API version 1 (id <see cref="Id"/>), bound to <see cref="IApiMessage"/> in HOCON
/// (<see cref="ApiSerialization.Hocon"/>). Manifests are "v1.&lt;message&gt;"; requests may be at most
/// <see cref="MaxRequestBytes"/>, replies and stream messages <see cref="MaxReplyBytes"/>. A null field is not written
/// (read back, a missing field is null): that is what lets a field be added without changing any existing message's wire
/// form (docs/api-v1.md, "Compatibility"; pinned by the wire-form test).
/// </summary>
/// <param name="system">The actor system it serializes for.</param>
public sealed class ApiSerializer(ExtendedActorSystem system) : JsonManifestSerializer(system, Types, omitNulls: true)
{
    /// <summary>The serializer id (unique among the actor system's serializers).</summary>
    public const int Id = 7301;

    /// <summary>The largest request accepted (a create request is a few hundred bytes).</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>The largest reply or stream message (a list of thousands of VMs fits).</summary>
    public const int MaxReplyBytes = 4 * 1024 * 1024;

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <summary>Every API v1 message with its manifest and size limit.</summary>
    public static IReadOnlyList<MessageType> Types { get; } =
    [
        Request<CreateVmRequest>("create-vm"),
        Request<StartVmRequest>("start-vm"),
        Request<PauseVmRequest>("pause-vm"),
        Request<ResumeVmRequest>("resume-vm"),
        Request<StopVmRequest>("stop-vm"),
        Request<DestroyVmRequest>("destroy-vm"),
        Request<ListVmsRequest>("list-vms"),
        Request<DescribeVmRequest>("describe-vm"),
        Request<ClusterStatusRequest>("cluster-status"),
        Request<SubscribeConsoleRequest>("subscribe-console"),
        Request<SubscribeVmEventsRequest>("subscribe-events"),
        Request<SendConsoleInputRequest>("send-console-input"),
        Request<UnsubscribeVmEventsRequest>("unsubscribe-events"),
        Request<SnapshotVmRequest>("snapshot-vm"),
        Request<RestoreVmRequest>("restore-vm"),
        Request<MigrateVmRequest>("migrate-vm"),
        Request<ListMigrationsRequest>("list-migrations"),
        Reply<VmReply>("vm"),
        Reply<VmListReply>("vm-list"),
        Reply<VmDescriptionReply>("vm-description"),
        Reply<ClusterStatusReply>("cluster-status-reply"),
        Reply<SubscribedReply>("subscribed"),
        Reply<ApiErrorReply>("error"),
        Reply<ConsoleOutput>("console-output"),
        Reply<ConsoleInputReply>("console-input-accepted"),
        Reply<SnapshotReply>("snapshot"),
        Reply<VmEventNotice>("vm-event"),
        Reply<StreamEnded>("stream-ended"),
        Reply<MigrationReply>("migration"),
        Reply<MigrationListReply>("migration-list"),
        Reply<MigrationProgress>("migration-progress"),
    ];

    private static MessageType Request<T>(string name) where T : ApiRequest => new(typeof(T), "v1." + name, MaxRequestBytes);

    private static MessageType Reply<T>(string name) where T : IApiMessage => new(typeof(T), "v1." + name, MaxReplyBytes);
}
