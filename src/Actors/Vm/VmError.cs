using Actorvisor.Actors.Vcpu;

namespace Actorvisor.Actors.Vm;

/// <summary>Why a VM request was refused.</summary>
public abstract record VmError
{
    private VmError() { }

    /// <summary>A person-readable explanation.</summary>
    public abstract string Message { get; }

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
}
