namespace Actorvisor.Actors.Registry;

/// <summary>Why the node refused a request.</summary>
public abstract record VmRegistryError
{
    private VmRegistryError() { }

    /// <summary>A person-readable explanation.</summary>
    public abstract string Message { get; }

    /// <summary>A VM called <paramref name="Name"/> already exists on this node.</summary>
    public sealed record DuplicateVmName(string Name) : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => $"a VM named '{Name}' already exists on this node";
    }

    /// <summary>The request needs more of <paramref name="Resource"/> than the node has left.</summary>
    public sealed record InsufficientCapacity(string Resource, ulong Requested, ulong Available, ulong Total) : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => $"not enough {Resource}: requested {Requested}, available {Available} of {Total}";
    }

    /// <summary>The VM spec is invalid: <paramref name="Problem"/> names the field.</summary>
    public sealed record InvalidSpec(string Problem) : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => $"invalid VM spec: {Problem}";
    }

    /// <summary>Building VM <paramref name="Name"/> failed; <paramref name="Cause"/> is the VM's typed error where it has one (e.g. a VFIO file it could not attach).</summary>
    public sealed record CreateFailed(string Name, string Reason, Vm.VmError? Cause = null) : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => $"creating VM '{Name}' failed: {Reason}";
    }

    /// <summary>No VM called <paramref name="Name"/> exists on this node.</summary>
    public sealed record UnknownVm(string Name) : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => $"no VM named '{Name}' on this node";
    }

    /// <summary>The node is shutting down and creates nothing.</summary>
    public sealed record ShuttingDown : VmRegistryError
    {
        /// <inheritdoc />
        public override string Message => "the node is shutting down";
    }
}
