namespace Actorvisor.Host.Cluster;

/// <summary>
/// Published on a node's local event stream by its agent whenever it stores a newer <see cref="DirectorySnapshot"/>:
/// the node's API gateway finds each VM's node in it. Local only (no serializer binding of its own).
/// </summary>
public sealed record DirectorySnapshotReceived(DirectorySnapshot Snapshot);
