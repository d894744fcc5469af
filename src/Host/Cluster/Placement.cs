using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// Chooses the hypervisor for a new VM: the one named in the spec if it has room, else the one with the most
/// free guest RAM that fits the VM's vCPUs and RAM (ties: most free vCPUs, then the name), so VMs spread.
/// </summary>
public static class Placement
{
    /// <summary>The chosen node, or an error a person can act on (no node, unknown node, no room).</summary>
    public static PlacementResult Choose(IReadOnlyCollection<NodeLoad> nodes, ApiVmSpec spec)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(spec);
        if (nodes.Count == 0)
            return new(null, new ApiErrorReply(ApiErrorCode.NodeUnavailable, "no hypervisor node is Up in the cluster"));
        var need = $"{spec.Vcpus} vCPUs and {Mib(spec.MemoryBytes)} MiB";
        if (spec.Node is { } wanted)
        {
            var node = nodes.FirstOrDefault(n => n.Name == wanted);
            if (node is null)
                return new(null, new ApiErrorReply(ApiErrorCode.NotFound,
                    $"spec.node: no hypervisor named '{wanted}' is Up (Up: {string.Join(", ", nodes.Select(n => n.Name).Order(StringComparer.Ordinal))})", "spec.node"));
            return node.Fits(spec.Vcpus, spec.MemoryBytes)
                ? new(node, null)
                : new(null, new ApiErrorReply(ApiErrorCode.NoCapacity, $"node {node.DescribeFree()} has no room for {need}", "spec.node"));
        }
        var best = nodes
            .Where(n => n.Fits(spec.Vcpus, spec.MemoryBytes))
            .OrderByDescending(n => n.FreeMemoryBytes)
            .ThenByDescending(n => n.FreeVcpus)
            .ThenBy(n => n.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best is not null
            ? new(best, null)
            : new(null, new ApiErrorReply(ApiErrorCode.NoCapacity,
                $"no hypervisor has room for {need}: {string.Join(", ", nodes.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => n.DescribeFree()))}"));
    }

    private static ulong Mib(ulong bytes) => (bytes + (1UL << 20) - 1) >> 20;
}

