using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Node;

/// <summary>
/// Translates what a node's VmActors (and, for a VM whose actor stopped, its registry) answer the
/// <see cref="HypervisorAgent"/> into the API's replies. Pure functions: they run on the ask's completion, off the
/// agent's thread, and read only the <see cref="HostedVm"/>'s unchanging parts, its actor's liveness and (for lists) the
/// exit counters this process keeps for its vCPUs (<see cref="HardwareMeter"/>).
/// </summary>
internal static class AgentReplies
{
    /// <summary>The API's reply to start, pause, resume or stop of VM <paramref name="name"/>, from the VmActor's answer.</summary>
    public static object OfTransition(object reply, HostedVm vm, string nodeName, string name) => reply switch
    {
        VmTransitioned t => new VmReply(vm.Info(nodeName, VmStatuses.Of(t.State), null)),
        VmStopped s => new VmReply(vm.Info(nodeName, VmStatuses.Of(s.Outcome.FinalState), s.Outcome.ToString())),
        VmRequestFailed f => AgentErrors.Of(name, f.Error),
        _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{name}' answered {reply.GetType().Name}"),
    };

    /// <summary>The API's reply to describe of VM <paramref name="name"/> on the node at <paramref name="address"/>.</summary>
    public static object OfDescription(object reply, HostedVm vm, bool actorAlive, string nodeName, string address, string name) => reply switch
    {
        VmDescription d => new VmDescriptionReply(vm.Info(nodeName, VmStatuses.Of(d.State), d.Outcome?.ToString()),
            actorAlive ? d.Description : $"{vm.Spec.Image} (its VM actor stopped)", d.Devices.ToList(), d.MemslotCount, address),
        _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{name}' answered {reply.GetType().Name}"),
    };

    /// <summary>The API's line of a VM the agent runs, from the registry's line of it.</summary>
    public static VmInfo OfLine(HostedVm vm, VmSummary line, string nodeName, long? exits = null) =>
        vm.Info(nodeName, VmStatuses.Of(line.State), line.Outcome?.ToString(), line.Restarts, line.StartedAt, exits);

    /// <summary>
    /// The node's report from the registry's list: the lines of the VMs the agent runs (a VM still being built is not
    /// the agent's yet: the directory lists it as Creating), each with the exits this node counted in its current run, and the
    /// resources every listed VM holds.
    /// </summary>
    public static (List<VmInfo> Vms, int UsedVcpus, ulong UsedMemory) OfList(VmList list, IReadOnlyDictionary<string, HostedVm> hosted, string nodeName)
    {
        var vms = new List<VmInfo>();
        var exits = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in HardwareMeter.CurrentRuns())
            exits[c.Vm] = exits.GetValueOrDefault(c.Vm) + c.Total;
        int usedVcpus = 0;
        ulong usedMemory = 0;
        foreach (var line in list.Vms)
        {
            if (line.State.HoldsResources())
            {
                usedVcpus += line.VcpuCount;
                usedMemory += line.MemoryBytes;
            }
            // A VM that migrated away is the target's to list (its copy here is ending).
            if (hosted.TryGetValue(line.Name, out var vm) && !vm.MigratedAway) vms.Add(OfLine(vm, line, nodeName, exits.GetValueOrDefault(line.Name)));
        }
        return (vms, usedVcpus, usedMemory);
    }
}
