using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.X86;
using Akka.Actor;

namespace Actorvisor.Actors.Vm;

// Messages handled by VmActor (kvm->lock). Each request is answered to its sender with a success record or
// VmRequestFailed. Memslot requests (SetMemslot, DeleteMemslot, GetMemslots) are also accepted and passed
// to the VM's MemslotSetActor, which answers them.

/// <summary>A request to a VM (refused with <see cref="VmError.NotAccepting"/> once the VM is stopping).</summary>
public interface IVmRequest;

/// <summary>Created -> Running: the vCPUs start running the guest. Replies <see cref="VmTransitioned"/>.</summary>
public sealed record StartVm : IVmRequest
{
    /// <summary>The one instance.</summary>
    public static readonly StartVm Instance = new();
}

/// <summary>Running -> Paused: every vCPU is parked outside the guest. Replies <see cref="VmTransitioned"/> once all have acknowledged.</summary>
public sealed record PauseVm : IVmRequest
{
    /// <summary>The one instance.</summary>
    public static readonly PauseVm Instance = new();
}

/// <summary>Paused -> Running. Replies <see cref="VmTransitioned"/> once every vCPU runs again.</summary>
public sealed record ResumeVm : IVmRequest
{
    /// <summary>The one instance.</summary>
    public static readonly ResumeVm Instance = new();
}

/// <summary>
/// Tears the VM down (any live state -> Stopping -> Stopped). Replies <see cref="VmStopped"/> once the
/// teardown has finished; answered at once if the VM has already ended.
/// </summary>
public sealed record StopVm
{
    /// <summary>The one instance.</summary>
    public static readonly StopVm Instance = new();
}

/// <summary>Asks for the VM's description. Replies <see cref="VmDescription"/> (in every state).</summary>
public sealed record GetVmDescription
{
    /// <summary>The one instance.</summary>
    public static readonly GetVmDescription Instance = new();
}

/// <summary>
/// <paramref name="Subscriber"/> receives this VM's <see cref="VmEvent"/>s (state changes, console output,
/// teardown steps, the end). Replies <see cref="VmSubscribed"/>; a VM that has already ended sends its
/// <see cref="VmEnded"/> right away.
/// </summary>
public sealed record SubscribeVm(IActorRef Subscriber);

/// <summary>Stops sending events to <paramref name="Subscriber"/>. Replies <see cref="VmUnsubscribed"/>.</summary>
public sealed record UnsubscribeVm(IActorRef Subscriber);

/// <summary>Reads the registers of vCPU <paramref name="VcpuId"/>. The vCPU replies with a Vcpu.VcpuRegisters.</summary>
public sealed record GetRegisters(int VcpuId) : IVmRequest;

/// <summary>Writes the registers of vCPU <paramref name="VcpuId"/>. The vCPU replies with a Vcpu.VcpuRegistersSet.</summary>
public sealed record SetRegisters(int VcpuId, Registers Registers, SpecialRegisters? Special = null) : IVmRequest;

/// <summary>
/// Console input: <paramref name="Bytes"/> for the guest to receive on its serial console (COM1). Replies
/// <see cref="ConsoleInputAccepted"/> with how many bytes the UART took (0 if the VM has no UART).
/// </summary>
public sealed record SendConsoleInput(byte[] Bytes) : IVmRequest;

/// <summary>The reply to <see cref="SendConsoleInput"/>: <paramref name="Bytes"/> were queued for the guest.</summary>
public sealed record ConsoleInputAccepted(string VmName, int Bytes);

/// <summary>Every vCPU flushes its TLB. Replies <see cref="TlbFlushed"/> once every vCPU has acknowledged.</summary>
public sealed record FlushTlb : IVmRequest
{
    /// <summary>The one instance.</summary>
    public static readonly FlushTlb Instance = new();
}

/// <summary>
/// Reads <paramref name="Length"/> bytes of guest-physical memory from <paramref name="Address"/> (what the host sees,
/// as kvm_read_guest does; a running guest may be writing it at the same time). Accepted while the VM is Created,
/// Running or Paused. Replies <see cref="GuestMemoryRead"/>, or <see cref="VmRequestFailed"/> with
/// <see cref="VmError.MemoryReadLengthInvalid"/> (not 1..<see cref="MaxLength"/>), <see cref="VmError.GuestMemoryOutOfRange"/>
/// (some byte is not backed by a memslot), <see cref="VmError.NotAccepting"/> (stopping) or
/// <see cref="VmError.GuestMemoryUnmapped"/> (ended: its memory is gone).
/// </summary>
public sealed record ReadGuestMemory(ulong Address, int Length) : IVmRequest
{
    /// <summary>The most bytes one request may read (16 MiB): the reply is one message, copied once.</summary>
    public const int MaxLength = 16 << 20;
}

/// <summary>
/// Writes a snapshot of the Paused (or Created: not yet run) VM into the new directory <paramref name="Directory"/> (its parent must exist):
/// every vCPU's state (saved on its own thread), the platform and device state and guest memory (sparse), see
/// Hardware.Snapshots.SnapshotWriter. With <paramref name="Resume"/> the VM runs again once the files are written.
/// <paramref name="ProgressTo"/>, if given, receives <see cref="VmSnapshotProgress"/> while memory is written. Replies
/// <see cref="VmSnapshotted"/>, or <see cref="VmRequestFailed"/> with <see cref="VmError.InvalidTransition"/> (the VM is
/// neither Paused nor Created; resume applies to a Paused one) or <see cref="VmError.SnapshotFailed"/>. Other requests wait until the snapshot is written.
/// </summary>
public sealed record SnapshotVm(string Directory, bool Resume = false, IActorRef? ProgressTo = null) : IVmRequest;

/// <summary>The snapshot of <paramref name="VmName"/> is in <paramref name="Directory"/>: <paramref name="MemoryBytes"/> of guest memory, <paramref name="BytesOnDisk"/> on disk, written in <paramref name="Took"/>.</summary>
public sealed record VmSnapshotted(string VmName, string Directory, ulong MemoryBytes, ulong BytesOnDisk, TimeSpan Took, bool Resumed);

/// <summary>Progress of a <see cref="SnapshotVm"/>: <paramref name="Done"/> of <paramref name="Total"/> bytes of guest memory written.</summary>
public sealed record VmSnapshotProgress(string VmName, ulong Done, ulong Total);

/// <summary>
/// Moves the Running VM by live migration to the target listening on <paramref name="Host"/>:<paramref name="Port"/>
/// (a <c>MigrationReceiverActor</c> of another node, which said where in <c>MigrationListening</c>): the bulk pages go
/// over that TCP stream from a thread of the VM (Hardware.Migration.PreCopySource), never as messages; by pre-copy the
/// VM pauses only for the last dirty pages and its state, by post-copy (<paramref name="Options"/>' PostCopy) only for
/// its state, and then serves the target's page requests until every page is there. <paramref name="ProgressTo"/>, if
/// given, receives a <see cref="VmMigrationProgress"/> per round. Replies <see cref="VmMigrated"/> (by post-copy once
/// every page is on the target), after which this VM ends (outcome <see cref="VmOutcome.MigratedAway"/>); or
/// <see cref="VmRequestFailed"/> with <see cref="VmError.InvalidTransition"/> (not Running) or
/// <see cref="VmError.MigrationFailed"/>: before the go-ahead the VM goes on running, after it (the target may run the
/// VM, or post-copy broke) it ends Failed with the reason. Other requests wait until it ends
/// (but <see cref="CancelVmMigration"/>). <paramref name="Secure"/>, if given, wraps the connected TCP stream (TLS) on the
/// migration thread before anything is sent.
/// </summary>
public sealed record MigrateVm(string Host, int Port, PreCopyOptions? Options = null, IActorRef? ProgressTo = null,
    Func<Stream, Stream>? Secure = null) : IVmRequest;

/// <summary>
/// Cancels the VM's running <see cref="MigrateVm"/> if it has not switched over yet: its requester gets
/// <see cref="VmRequestFailed"/> ("cancelled") and the VM goes on running. Ignored when no migration runs.
/// </summary>
public sealed record CancelVmMigration
{
    /// <summary>The one instance.</summary>
    public static readonly CancelVmMigration Instance = new();
}

/// <summary>VM <paramref name="VmName"/> moved to <paramref name="Target"/>; the source's measurements are in <paramref name="Result"/>.</summary>
public sealed record VmMigrated(string VmName, string Target, MigrationResult Result);

/// <summary>A pre-copy round of a <see cref="MigrateVm"/> ended.</summary>
public sealed record VmMigrationProgress(string VmName, PreCopyRound Round);

/// <summary>The VM is now in <paramref name="State"/>.</summary>
public sealed record VmTransitioned(string VmName, VmState State);

/// <summary>The VM has been torn down and ended with <paramref name="Outcome"/>.</summary>
public sealed record VmStopped(string VmName, VmOutcome Outcome);

/// <summary>Subscribed; the VM was in <paramref name="State"/>.</summary>
public sealed record VmSubscribed(string VmName, VmState State);

/// <summary>Unsubscribed.</summary>
public sealed record VmUnsubscribed(string VmName);

/// <summary>All <paramref name="VcpuCount"/> vCPUs flushed their TLBs.</summary>
public sealed record TlbFlushed(string VmName, int VcpuCount);

/// <summary>The bytes of guest memory [<paramref name="Address"/>, + <paramref name="Bytes"/>.Length), read at one moment.</summary>
public sealed record GuestMemoryRead(string VmName, ulong Address, byte[] Bytes);

/// <summary>A request to VM <paramref name="VmName"/> was refused.</summary>
public sealed record VmRequestFailed(string VmName, VmError Error);

/// <summary>What a VM is and where it stands.</summary>
public sealed record VmDescription(
    string Name,
    VmState State,
    int VcpuCount,
    ulong MemoryBytes,
    string Description,
    IReadOnlyList<string> Devices,
    int MemslotCount,
    VmOutcome? Outcome);

// Sent by a VmActor to its parent.

/// <summary>The VM was built and is Created.</summary>
public sealed record VmReady(string VmName, IActorRef Vm);

/// <summary>The VM could not be built (<paramref name="Reason"/>, typed as <paramref name="Error"/> where there is one); nothing of it remains.</summary>
public sealed record VmCreateFailed(string VmName, string Reason, VmError? Error = null);
