using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Runtime;

/// <summary>A request through <see cref="ActorvisorRuntime"/> was refused; <see cref="Error"/> is the typed reason.</summary>
public sealed class ActorvisorException : Exception
{
    /// <summary>Refused by the node.</summary>
    public ActorvisorException(VmRegistryError error) : base(error.Message) => Error = error;

    /// <summary>Refused by a VM.</summary>
    public ActorvisorException(string vmName, VmError error) : base($"VM '{vmName}': {error.Message}") => Error = error;

    /// <summary>The <see cref="VmRegistryError"/> or <see cref="VmError"/>.</summary>
    public object Error { get; }
}
