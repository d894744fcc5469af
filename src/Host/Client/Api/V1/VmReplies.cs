namespace Actorvisor.Host.Api.V1;

/// <summary>Where a VM stands, as the API reports it. The values are part of the wire contract and never change.</summary>
public enum VmStatus
{
    /// <summary>Placed; its node is building it.</summary>
    Creating = 0,
    /// <summary>Built; the guest has not run yet.</summary>
    Created = 1,
    /// <summary>The guest runs.</summary>
    Running = 2,
    /// <summary>Every vCPU is parked.</summary>
    Paused = 3,
    /// <summary>Being torn down.</summary>
    Stopping = 4,
    /// <summary>Torn down after the guest ended or a stop (see the outcome).</summary>
    Stopped = 5,
    /// <summary>Torn down after a failure (see the outcome).</summary>
    Failed = 6,
    /// <summary>Its node left the cluster without tearing it down (crashed, downed by the split-brain resolver).</summary>
    Lost = 7,
}

/// <summary>One VM in a listing or after an operation.</summary>
/// <param name="Name">The VM's name.</param>
/// <param name="Node">The name of the node it is on.</param>
/// <param name="Status">Its state.</param>
/// <param name="Vcpus">Its vCPUs.</param>
/// <param name="MemoryBytes">Its guest RAM.</param>
/// <param name="Image">The image it boots (library name or path).</param>
/// <param name="Outcome">How it ended (null while it lives), e.g. "exited with result code 0".</param>
/// <param name="Restarts">
/// How many times its restart policy restarted it (kept across restarts of its node); null where the reply does not report
/// it (lists, describes and event notices do; the replies to lifecycle requests do not).
/// </param>
/// <param name="StartedAt">When its guest first ran (UTC), as its node's VM registry recorded it; null before it started, and
/// in the replies of start, pause, resume, stop and describe, which come from the VM itself.</param>
/// <param name="Exits">Every exit of its vCPUs its node has counted in its current run (of all kinds, summed over its vCPUs;
/// a restart or a VM created again under the same name starts again from 0; a VM that ended keeps its last run's count for
/// 5 minutes, then 0); in lists only (null elsewhere, and from older nodes).</param>
public sealed record VmInfo(string Name, string Node, VmStatus Status, int Vcpus, ulong MemoryBytes, string Image, string? Outcome, int? Restarts = null,
    DateTimeOffset? StartedAt = null, long? Exits = null);

/// <summary>The VM after a create, start, pause, resume, stop or destroy.</summary>
/// <param name="Vm">The VM as it is after the operation.</param>
public sealed record VmReply(VmInfo Vm) : IApiReply;

/// <summary>The VMs a <see cref="ListVmsRequest"/> asked for, by name.</summary>
/// <param name="Vms">Each VM as its node reports it (or Creating / Lost, as the VM directory has it).</param>
/// <param name="UnansweredNodes">Nodes that did not report their VMs within the request's deadline (their VMs are missing
/// from <paramref name="Vms"/>); null or empty when every node answered.</param>
public sealed record VmListReply(IReadOnlyList<VmInfo> Vms, IReadOnlyList<string>? UnansweredNodes = null) : IApiReply;

/// <summary>A VM in detail.</summary>
/// <param name="Vm">The summary.</param>
/// <param name="Description">What runs in it and on which accelerator.</param>
/// <param name="Devices">Its devices (e.g. "com1", "debug-exit").</param>
/// <param name="MemslotCount">Its memory slots.</param>
/// <param name="NodeAddress">The address of its node.</param>
public sealed record VmDescriptionReply(VmInfo Vm, string Description, IReadOnlyList<string> Devices, int MemslotCount, string NodeAddress) : IApiReply;
