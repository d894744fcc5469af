namespace Actorvisor.Actors.Vm;

/// <summary>How a VM ended.</summary>
public abstract record VmOutcome
{
    private VmOutcome() { }

    /// <summary>The guest reported a result code (the debug-exit device) and the VM stopped.</summary>
    public sealed record Exited(int ResultCode) : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => $"exited with result code {ResultCode}";
    }

    /// <summary>Every vCPU executed HLT with nothing left to wake it, and the VM stopped.</summary>
    public sealed record Halted : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => "all vCPUs halted";
    }

    /// <summary>The guest reset the machine (the i8042 reset command, KVM's system reset event): how Linux reboots.</summary>
    public sealed record Reset : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => "reset";
    }

    /// <summary>A stop was requested (StopVm, DestroyVm, node shutdown).</summary>
    public sealed record StoppedOnRequest : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => "stopped on request";
    }

    /// <summary>The VM moved to another node by live migration (<paramref name="Target"/>); this copy of it is gone.</summary>
    public sealed record MigratedAway(string Target) : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => $"migrated to {Target}";
    }

    /// <summary>The VM failed: <paramref name="Reason"/> says which part and why.</summary>
    public sealed record Failed(string Reason) : VmOutcome
    {
        /// <inheritdoc />
        public override string ToString() => $"failed: {Reason}";
    }

    /// <summary>The state a VM with this outcome ends in.</summary>
    public VmState FinalState => this is Failed ? VmState.Failed : VmState.Stopped;
}
