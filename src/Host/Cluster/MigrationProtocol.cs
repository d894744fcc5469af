using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

// Messages of a live migration between the VM directory, the source node's agent and the target node's agent. The
// pages themselves never travel as messages: they go over a TCP stream between the two nodes' VMs.

/// <summary>
/// The directory asks the source node's agent to migrate VM <paramref name="Vm"/> to <paramref name="TargetNode"/>
/// (whose agent is <paramref name="TargetAgent"/>), as migration <paramref name="Id"/>. The agent prepares the target
/// (<see cref="PrepareArrival"/>), starts the VM's migration and answers <see cref="MigrateOnNodeResult"/> within
/// <paramref name="DeadlineMs"/>; from then on it reports to the directory with <see cref="MigrationUpdate"/>.
/// <paramref name="Postcopy"/> ("auto", "never", "always"; null: never) and <paramref name="BandwidthBytesPerSecond"/>
/// (null: unlimited) are the API request's.
/// </summary>
public sealed record MigrateOnNode(string Id, string Vm, string TargetNode, IActorRef TargetAgent, int? MaxDowntimeMs, int DeadlineMs,
    string? Postcopy = null, ulong? BandwidthBytesPerSecond = null) : IClusterProtocolMessage;

/// <summary>The source agent's answer to <see cref="MigrateOnNode"/>: the migration runs, or why it did not start.</summary>
public sealed record MigrateOnNodeResult(string Vm, MigrationInfo? Migration, ApiErrorReply? Error) : IClusterProtocolMessage;

/// <summary>
/// The source agent asks the target's agent to take VM <paramref name="Spec"/> (running on <paramref name="Accelerator"/>)
/// by migration <paramref name="Id"/> from <paramref name="SourceNode"/>: it checks the accelerator kind and its room, opens
/// a listener and answers <see cref="ArrivalPrepared"/>.
/// </summary>
public sealed record PrepareArrival(string Id, ApiVmSpec Spec, string Accelerator, string SourceNode) : IClusterProtocolMessage;

/// <summary>The target's answer to <see cref="PrepareArrival"/>: where the source connects, or why it refuses.</summary>
public sealed record ArrivalPrepared(string Id, string? Host, int Port, ApiErrorReply? Error) : IClusterProtocolMessage;

/// <summary>
/// The source agent tells the directory how migration <paramref name="Migration"/> stands (each round, and its end). The
/// directory answers an end with <see cref="MigrationEndRecorded"/>.
/// </summary>
public sealed record MigrationUpdate(MigrationInfo Migration) : IClusterProtocolMessage;

/// <summary>
/// The directory has recorded the end of migration <paramref name="Id"/>: only then does the source agent tell the VM's
/// event subscribers, so whoever hears that a migration ended finds the directory knowing it too.
/// </summary>
public sealed record MigrationEndRecorded(string Id) : IClusterProtocolMessage;

/// <summary>
/// The target's agent tells the directory that VM <paramref name="Vm"/> of migration <paramref name="Id"/> runs there now:
/// the directory moves the VM's location to the target in one step.
/// </summary>
public sealed record VmArrived(string Id, VmInfo Vm) : IClusterProtocolMessage;

/// <summary>
/// The directory tells the source node's agent that VM <paramref name="Vm"/> of migration <paramref name="Id"/> is located
/// on the target now: only then does the source report the migration completed (so whoever hears of it finds the VM
/// there) and hand its subscribers over.
/// </summary>
public sealed record MigrationArrivalRecorded(string Id, string Vm) : IClusterProtocolMessage;

/// <summary>The directory asks the source agent to cancel the migration of VM <paramref name="Vm"/> (before switchover).</summary>
public sealed record CancelMigrationOnNode(string Vm) : IClusterProtocolMessage;

/// <summary>
/// The source agent hands the subscribers of migrated VM <paramref name="Vm"/> to the target's agent once the source copy has
/// ended: <paramref name="EventSubscribers"/> go on receiving its events, <paramref name="ConsoleSubscribers"/> its console
/// from the first byte the target's copy printed, and <paramref name="Backlog"/> (what the source's copy printed last)
/// comes before the target's own in the console kept for new subscribers.
/// </summary>
public sealed record HandOverSubscribers(string Vm, IReadOnlyList<IActorRef> EventSubscribers, IReadOnlyList<IActorRef> ConsoleSubscribers, byte[] Backlog)
    : IClusterProtocolMessage;
