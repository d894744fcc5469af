using Actorvisor.Actors.Vm;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>Maps the actor runtime's VM states onto the API's.</summary>
public static class VmStatuses
{
    /// <summary>The API status of <paramref name="state"/>.</summary>
    public static VmStatus Of(VmState state) => state switch
    {
        VmState.Created => VmStatus.Created,
        VmState.Running => VmStatus.Running,
        VmState.Paused => VmStatus.Paused,
        VmState.Stopping => VmStatus.Stopping,
        VmState.Stopped => VmStatus.Stopped,
        _ => VmStatus.Failed,
    };
}
