using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node.State;

// Messages handled by NodeStateActor. Each is answered, once it is on disk, with NodeStateSaved, or with
// Status.Failure carrying the NodeStateException.

/// <summary>A write to the node's state database.</summary>
public interface INodeStateWrite
{
    /// <summary>The VM it is about.</summary>
    string Name { get; }
}

/// <summary>Records a newly created VM (<paramref name="Spec"/>, intent stopped, no restarts).</summary>
public sealed record SaveVmDefinition(ApiVmSpec Spec) : INodeStateWrite
{
    /// <inheritdoc />
    public string Name => Spec.Name;
}

/// <summary>Records VM <paramref name="Name"/>'s lifecycle intent.</summary>
public sealed record SaveVmIntent(string Name, VmIntent Intent) : INodeStateWrite;

/// <summary>Records VM <paramref name="Name"/>'s restart count.</summary>
public sealed record SaveVmRestarts(string Name, int Restarts) : INodeStateWrite;

/// <summary>Records VM <paramref name="Name"/>'s managed save, snapshot <paramref name="Snapshot"/> (null: none).</summary>
public sealed record SaveVmManagedSave(string Name, string? Snapshot) : INodeStateWrite;

/// <summary>Forgets VM <paramref name="Name"/> (destroyed).</summary>
public sealed record ForgetVmDefinition(string Name) : INodeStateWrite;

/// <summary>The write about VM <paramref name="Name"/> is on disk.</summary>
public sealed record NodeStateSaved(string Name);
