using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vfio;

namespace Actorvisor.Actors.Vm;

/// <summary>Why a VM request was refused.</summary>
public abstract record VmError
{
    private VmError() { }

    /// <summary>A person-readable explanation.</summary>
    public abstract string Message { get; }

    /// <summary>Why a request to every vCPU did not complete: the first vCPU's own error, or which vCPUs did not answer.</summary>
    internal static VmError OfVcpus(Collected c) =>
        c.Failures.OfType<VcpuRequestFailed>().FirstOrDefault() is { } f
            ? new VcpuFailed(f.VcpuId, f.Error)
            : new VcpusUnresponsive(c.Problem);

    /// <summary>The request is not a transition from <paramref name="From"/> (e.g. pausing a created VM).</summary>
    public sealed record InvalidTransition(VmState From, string Request) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"cannot {Request} a VM that is {From}";
    }

    /// <summary>The VM is <paramref name="State"/> (stopping or ended) and accepts no requests.</summary>
    public sealed record NotAccepting(VmState State) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"the VM is {State} and accepts no requests";
    }

    /// <summary>No vCPU has index <paramref name="VcpuId"/>.</summary>
    public sealed record UnknownVcpu(int VcpuId, int VcpuCount) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"vcpu {VcpuId} does not exist (the VM has {VcpuCount} vCPUs: 0..{VcpuCount - 1})";
    }

    /// <summary>A vCPU refused or could not apply its part of the request.</summary>
    public sealed record VcpuFailed(int VcpuId, VcpuError Error) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"vcpu {VcpuId}: {Error.Message}";
    }

    /// <summary>Some vCPU did not answer in time or is gone.</summary>
    public sealed record VcpusUnresponsive(string Detail) : VmError
    {
        /// <inheritdoc />
        public override string Message => Detail;
    }

    /// <summary>A memory read of <paramref name="Length"/> bytes is not in 1..<paramref name="MaxLength"/>.</summary>
    public sealed record MemoryReadLengthInvalid(int Length, int MaxLength) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"length: {Length} is not in 1..{MaxLength} bytes";
    }

    /// <summary>
    /// Guest memory [<paramref name="Address"/>, + <paramref name="Length"/>) is not all backed by memslots: no slot
    /// holds <paramref name="FirstUnbacked"/>. <paramref name="Backed"/> lists the ranges that are.
    /// </summary>
    public sealed record GuestMemoryOutOfRange(ulong Address, ulong Length, ulong FirstUnbacked, string Backed) : VmError
    {
        /// <inheritdoc />
        public override string Message =>
            $"guest memory [0x{Address:x}, 0x{Address + Length:x}) is not all RAM: no memslot holds 0x{FirstUnbacked:x} (RAM: {Backed})";
    }

    /// <summary>The VM has ended (<paramref name="State"/>) and its guest memory has been unmapped.</summary>
    public sealed record GuestMemoryUnmapped(VmState State) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"the VM is {State}: its guest memory has been unmapped";
    }

    /// <summary>The VM's KVM-VFIO device refused to attach or detach a file (<paramref name="Error"/> names it).</summary>
    public sealed record VfioRefused(VfioError Error) : VmError
    {
        /// <inheritdoc />
        public override string Message => Error.Message;
    }

    /// <summary>A request about lazy memory (async page faults) was refused: the VM has none, or the request does not fit it.</summary>
    public sealed record LazyMemoryRefused(string Detail) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"lazy memory: {Detail}";
    }

    /// <summary>A snapshot could not be taken: a vCPU could not save its state, or the files could not be written (<paramref name="Detail"/> says which).</summary>
    public sealed record SnapshotFailed(string Detail) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"snapshot: {Detail}";
    }

    /// <summary>A live migration did not switch over (<paramref name="Detail"/> says why: refused, stream broken, cancelled); the VM runs on.</summary>
    public sealed record MigrationFailed(string Detail) : VmError
    {
        /// <inheritdoc />
        public override string Message => $"migration: {Detail}";
    }
}
