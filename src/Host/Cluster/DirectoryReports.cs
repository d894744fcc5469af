using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Cluster;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// Builds the <see cref="VmDirectory"/>'s answers from its entries and the nodes' reports: the nodes' loads for
/// placement, `vm list` (the directory's own Creating / Lost lines with the nodes' lines for the rest) and `cluster
/// status` (membership, capacity and the figures the nodes reported). Owned by the directory and called only from its
/// thread; it reads the directory's table (its per-node totals and marked VMs: none of these goes over every VM) and
/// changes nothing.
/// </summary>
internal sealed class DirectoryReports(
    Akka.Cluster.Cluster cluster, string systemName, DirectoryTable table,
    IReadOnlyDictionary<Address, DateTimeOffset> copies)
{

    /// <summary>
    /// The agents a gathering asks (by node name: two nodes of one name, an error the announcements log, are asked as
    /// one) and the names of the unreachable nodes it does not ask; of every node, or of <paramref name="onlyNode"/>.
    /// </summary>
    public (Dictionary<string, IActorRef> Asked, List<string> NotAsked) WhomToAsk(string? onlyNode)
    {
        var unreachable = cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        var chosen = table.Nodes.Values.Where(n => onlyNode is null || n.Info.Name == onlyNode).ToList();
        var asked = new Dictionary<string, IActorRef>(StringComparer.Ordinal);
        foreach (var n in chosen.Where(n => !unreachable.Contains(n.Address))) asked[n.Info.Name] = n.Agent;
        return (asked, chosen.Where(n => unreachable.Contains(n.Address)).Select(n => n.Info.Name).ToList());
    }

    /// <summary>The load of each node placement may choose: up, reachable and announced.</summary>
    public List<NodeLoad> Loads()
    {
        var up = cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address).ToHashSet();
        var unreachable = cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        return table.Nodes.Values
            .Where(n => up.Contains(n.Address) && !unreachable.Contains(n.Address))
            .Select(n =>
            {
                var held = table.TotalsOf(n.Address);
                return new NodeLoad(n.Info.Name, n.Address.ToString(), n.Info.Vcpus, held.HeldVcpus, n.Info.MemoryBytes, held.HeldMemoryBytes);
            })
            .ToList();
    }

    /// <summary>
    /// Composes `vm list` (of every node, or of <paramref name="node"/> only) from the nodes' reports: the directory's
    /// own lines (being created, lost) are matched by name and replace the nodes' lines of those VMs.
    /// </summary>
    public Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> List(string? node)
    {
        var marked = table.Marked.Select(e => e.Location.MarkedInfo()).ToList();
        var markedNames = marked.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        return (reports, unanswered) => new VmListReply(
            reports.SelectMany(report => report.Vms).Where(v => !markedNames.Contains(v.Name)).Concat(marked)
                .Where(v => node is null || v.Node == node)
                .OrderBy(v => v.Name, StringComparer.Ordinal).ToList(),
            unanswered);
    }

    /// <summary>Composes `cluster status`: the directory's view (<paramref name="changedAt"/>: its last change), with each node's reported figures.</summary>
    public Func<IReadOnlyList<NodeVmsReport>, IReadOnlyList<string>, object> Status(DateTimeOffset changedAt)
    {
        var status = OwnStatus(changedAt);
        return (reports, unanswered) =>
        {
            var byNode = reports.ToDictionary(report => report.Node, StringComparer.Ordinal);
            return status with
            {
                Nodes = status.Nodes.Select(n =>
                {
                    if (!byNode.TryGetValue(n.Name, out var report)) return n;
                    // The node's registry counts a VM from the moment it is asked to build it; the directory's Creating
                    // lines add only those the node has not reported yet.
                    var creating = Creating(n.Address);
                    if (creating.Count > 0)
                    {
                        var reported = report.Vms.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
                        creating.RemoveAll(c => reported.Contains(c.Name));
                    }
                    return n with { UsedVcpus = report.UsedVcpus, UsedMemoryBytes = report.UsedMemoryBytes, VmCount = report.Vms.Count + creating.Count };
                }).ToList(),
                UnansweredNodes = unanswered,
            };
        };
    }

    private List<VmLocation> Creating(string nodeAddress) =>
        table.Marked.Where(e => e.Location.NodeAddress == nodeAddress && e.Location.Marker == VmStatus.Creating).Select(e => e.Location).ToList();

    // The directory's own view: membership, capacity, and its placement figures for each node's load.
    private ClusterStatusReply OwnStatus(DateTimeOffset changedAt)
    {
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.Concat(state.Unreachable.Where(u => state.Members.All(m => m.Address != u.Address)))
            .Select(m =>
            {
                table.Nodes.TryGetValue(m.Address, out var n);
                var held = table.TotalsOf(m.Address);
                return new NodeStatus(n?.Info.Name ?? "", m.Address.ToString(), unreachable.Contains(m.Address) ? "Unreachable" : m.Status.ToString(),
                    m.Roles.Order(StringComparer.Ordinal).ToList(), n?.Info.Accelerator, n?.Info.AcceleratorDescription,
                    n?.Info.Vcpus ?? 0, held.HeldVcpus, n?.Info.MemoryBytes ?? 0, held.HeldMemoryBytes, held.Vms,
                    copies.TryGetValue(m.Address, out var copy) ? copy : null);
            })
            .OrderBy(n => n.Name, StringComparer.Ordinal).ThenBy(n => n.Address, StringComparer.Ordinal)
            .ToList();
        return new ClusterStatusReply(systemName, state.Leader?.ToString(), cluster.SelfAddress.ToString(), members, changedAt);
    }
}
