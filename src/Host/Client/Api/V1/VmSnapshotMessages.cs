namespace Actorvisor.Host.Api.V1;

/// <summary>
/// Writes a snapshot of Paused VM <paramref name="Name"/> as snapshot <paramref name="To"/>: a plain name (letters,
/// digits, '-', '_' and '.', not starting with '.'), created in the first of its node's snapshot directories
/// (Node:SnapshotDirectories); never a path. With <paramref name="Resume"/> the VM runs again afterwards. Replies
/// <see cref="SnapshotReply"/>. Not repeatable: a second one finds the name taken.
/// </summary>
public sealed record SnapshotVmRequest(string Name, string To, bool Resume = false) : ApiRequest;

/// <summary>
/// The reply to <see cref="SnapshotVmRequest"/>: snapshot <paramref name="Snapshot"/> of VM <paramref name="Name"/> is in
/// <paramref name="Directory"/> on node <paramref name="Node"/>, <paramref name="MemoryBytes"/> of guest memory taking
/// <paramref name="BytesOnDisk"/> (sparse), written in <paramref name="WriteMs"/> ms.
/// </summary>
public sealed record SnapshotReply(string Name, string Snapshot, string Node, string Directory, ulong MemoryBytes, ulong BytesOnDisk, long WriteMs, bool Resumed) : IApiReply;

/// <summary>
/// Creates VM <paramref name="Name"/> (state Created) from snapshot <paramref name="From"/> (a name in the snapshot
/// directories of the node it lands on, see <see cref="SnapshotVmRequest"/>), restoring its memory in
/// <paramref name="Mode"/>: "eager", "lazy" or "mmap" (default lazy). <paramref name="Node"/> picks the node (null:
/// placement among the nodes that hold the snapshot; none holding it is an <see cref="ApiErrorCode.InvalidRequest"/> naming
/// "from"). The VM is listed with the snapshot's image, vCPUs and memory, and its node stores it as a VM of that image: it
/// is never restored from the snapshot again (docs/architecture.md, "A restored VM is stored as what it became"). <paramref name="CpuLimit"/> limits the restored VM's vCPU threads as
/// <see cref="ApiVmSpec.CpuLimit"/> does a created one's (at most the snapshot's vCPU count, which its node checks).
/// Replies <see cref="VmReply"/> like a create.
/// </summary>
public sealed record RestoreVmRequest(string Name, string From, string Mode = "lazy", string? Node = null, double? CpuLimit = null) : ApiRequest;
