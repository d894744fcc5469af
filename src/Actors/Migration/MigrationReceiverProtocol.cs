using Akka.Actor;

namespace Actorvisor.Actors.Migration;

// Messages handled by MigrationReceiverActor (the target side of a live migration on a node).

/// <summary>
/// Be the target of one live migration: open a TCP listener and reply <see cref="MigrationListening"/> with its port
/// (the source's VmActor gets it in its MigrateVm). When the VM has arrived and runs here, the requester gets
/// <see cref="MigrationArrived"/>; if it never does, <see cref="MigrationReceiveFailed"/>. By post-copy it also gets
/// <see cref="MigrationPostCopyEnded"/> once every page is here (or the source is gone). The VM keeps the source's
/// name unless <paramref name="Name"/> gives another. <paramref name="Subscriber"/>, if given, is subscribed to the VM's
/// events before it runs here (so it misses none of the console).
/// </summary>
public sealed record ReceiveMigration(string? Name = null, IActorRef? Subscriber = null);

/// <summary>The receiver listens on <paramref name="Host"/>:<paramref name="Port"/> for one migration stream.</summary>
public sealed record MigrationListening(string Host, int Port);

/// <summary>
/// VM <paramref name="VmName"/> arrived and runs on this node as <paramref name="Vm"/>, after <paramref name="Rounds"/>
/// pre-copy rounds and <paramref name="PagesReceived"/> page entries.
/// </summary>
public sealed record MigrationArrived(string VmName, IActorRef Vm, int Rounds, long PagesReceived);

/// <summary>The migration did not arrive: <paramref name="Reason"/> (refused here, the stream broke, the source cancelled, or the node would not take the VM).</summary>
public sealed record MigrationReceiveFailed(string Reason);

/// <summary>
/// The post-copy of VM <paramref name="VmName"/> ended: every page is here (<paramref name="Failure"/> null), or the
/// source was gone first and the VM was failed with <paramref name="Failure"/>. <paramref name="MissingAtStart"/> pages
/// were missing at the switchover; the guest's faults (and their readahead) asked the source for
/// <paramref name="RemoteFaults"/>; <paramref name="PagesReceived"/> came after the switchover, <paramref name="StalePages"/>
/// of them found present (not written: the target's copy stood); it took <paramref name="Elapsed"/>.
/// </summary>
public sealed record MigrationPostCopyEnded(string VmName, long MissingAtStart, long RemoteFaults, long PagesReceived, long StalePages, TimeSpan Elapsed,
    string? Failure);
