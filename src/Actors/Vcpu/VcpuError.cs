using Actorvisor.Hardware.Accel;

namespace Actorvisor.Actors.Vcpu;

/// <summary>Why a vCPU request was refused or failed.</summary>
public abstract record VcpuError
{
    private VcpuError() { }

    /// <summary>A person-readable explanation.</summary>
    public abstract string Message { get; }

    /// <summary>The guest on this vCPU has ended (<paramref name="Exit"/>); it cannot be resumed.</summary>
    public sealed record GuestEnded(VcpuExit Exit) : VcpuError
    {
        /// <inheritdoc />
        public override string Message => $"the guest on this vCPU has ended ({Exit}); it cannot be resumed";
    }

    /// <summary>The vCPU thread has stopped; only <see cref="StopVcpu"/> is still answered.</summary>
    public sealed record ThreadStopped : VcpuError
    {
        /// <inheritdoc />
        public override string Message => "the vCPU thread has stopped";
    }

    /// <summary>The accelerator refused the operation (e.g. invalid register state).</summary>
    public sealed record AcceleratorFailed(string Reason) : VcpuError
    {
        /// <inheritdoc />
        public override string Message => $"the accelerator refused: {Reason}";
    }
}
