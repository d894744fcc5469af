using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// Chooses the target of a live migration, up front, before anything is sent: the node named by <c>--to</c> if it is
/// another live node of the same accelerator kind with room for the VM, else (no name) the node <see cref="Placement"/>
/// picks among those. A refusal names the field "to" and says why (unknown node, the VM's own node, another accelerator
/// kind, no room).
/// </summary>
public static class MigrationPlacement
{
    /// <summary>
    /// The target for VM <paramref name="vm"/> (of <paramref name="vcpus"/> and <paramref name="memoryBytes"/>) now on
    /// <paramref name="source"/>, among the live nodes <paramref name="loads"/> whose accelerator kinds are
    /// <paramref name="accelerators"/> (by node name), or why there is none.
    /// </summary>
    public static PlacementResult Choose(IReadOnlyCollection<NodeLoad> loads, IReadOnlyDictionary<string, string> accelerators, string vm, int vcpus,
        ulong memoryBytes, string source, string? to)
    {
        ArgumentNullException.ThrowIfNull(loads);
        ArgumentNullException.ThrowIfNull(accelerators);
        string kind = accelerators.GetValueOrDefault(source, "unknown");
        if (to == source)
            return new(null, ApiErrorReply.Invalid("to", $"VM '{vm}' is on node {source} already"));
        var others = loads.Where(n => n.Name != source).ToList();
        if (to is not null)
        {
            if (others.FirstOrDefault(n => n.Name == to) is not { } named)
                return new(null, new ApiErrorReply(ApiErrorCode.NotFound,
                    $"to: no hypervisor named '{to}' is Up (Up: {string.Join(", ", loads.Select(n => n.Name).Order(StringComparer.Ordinal))})", "to"));
            if (accelerators.GetValueOrDefault(to) is { } other && other != kind)
                return new(null, ApiErrorReply.Invalid("to", $"node {to} runs the {other} accelerator and VM '{vm}' runs on {kind} (node {source}): a VM moves only between nodes of one accelerator kind"));
        }
        var sameKind = others.Where(n => accelerators.GetValueOrDefault(n.Name) == kind).ToList();
        if (to is null && sameKind.Count == 0)
            return new(null, new ApiErrorReply(ApiErrorCode.NoCapacity, $"no other hypervisor runs the {kind} accelerator VM '{vm}' runs on (node {source})"));
        var placed = Placement.Choose(sameKind, new ApiVmSpec(vm, vcpus, memoryBytes, "migration", Node: to));
        return placed.Error is { } error
            ? new(null, error with { Message = error.Message.Replace("spec.node:", "to:", StringComparison.Ordinal), Field = error.Field is null ? null : "to" })
            : placed;
    }
}
