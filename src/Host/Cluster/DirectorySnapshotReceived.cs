namespace Actorvisor.Host.Cluster;

/// <summary>
/// Published on a node's local event stream by its agent whenever its copy of the VM directory moves forward (a newer
/// whole <see cref="DirectorySnapshot"/> or a delta applied): the node's API gateway finds each VM's node in
/// <see cref="DirectoryReplica.Vms"/>. Local only (no serializer binding of its own).
/// </summary>
public sealed record DirectorySnapshotReceived(DirectoryReplica Replica);
