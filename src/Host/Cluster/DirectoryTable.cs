using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The <see cref="VmDirectory"/>'s tables of nodes and VMs and the rules that change them as nodes come and go: a node's
/// announcement (its description and its VMs, replacing what the directory knew of that node), a node's loss (its VMs
/// become <see cref="VmStatus.Lost"/>), and the recovery of departed nodes' VMs from a snapshot. Every change of a VM's
/// entry goes through it (<see cref="Set(DirectoryVm)"/>, <see cref="Remove"/>), which keeps beside the table what is read per request
/// so that no request goes over every VM: each node's totals (<see cref="DirectoryNodeTotals"/>, for placement), the
/// VMs the directory marks itself (Creating, Lost) and the names changed since the last copy to the agents
/// (<see cref="TakeChanges"/>). Owned by the directory and used only from its thread; telling subscribers and scheduling
/// copies stay with the directory.
/// </summary>
internal sealed class DirectoryTable(ILoggingAdapter log)
{
    private static readonly DirectoryNodeTotals NoVms = new();
    private readonly Dictionary<string, DirectoryVm> _vms = new(StringComparer.Ordinal);
    private readonly Dictionary<Address, DirectoryNodeTotals> _totals = new();
    private readonly HashSet<string> _marked = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);

    /// <summary>The announced hypervisor nodes, by address.</summary>
    public Dictionary<Address, DirectoryNode> Nodes { get; } = new();

    /// <summary>Every VM the directory knows, by name (changed only through this table).</summary>
    public IReadOnlyDictionary<string, DirectoryVm> Vms => _vms;

    /// <summary>The VMs the directory reports itself: those being created and those Lost.</summary>
    public IEnumerable<DirectoryVm> Marked => _marked.Select(name => _vms[name]);

    /// <summary>What the VMs on the node at <paramref name="address"/> hold (zero for a node without VMs).</summary>
    public DirectoryNodeTotals TotalsOf(Address address) => _totals.TryGetValue(address, out var t) ? t : NoVms;

    /// <summary>Records <paramref name="entry"/>, replacing the entry of that name if there is one.</summary>
    public void Set(DirectoryVm entry)
    {
        var name = entry.Location.Name;
        if (_vms.TryGetValue(name, out var old)) Uncount(old);
        _vms[name] = entry;
        if (!_totals.TryGetValue(entry.Address, out var totals)) _totals[entry.Address] = totals = new DirectoryNodeTotals();
        totals.Count(entry.Location, +1);
        if (entry.Location.Marker is not null) _marked.Add(name);
        _changed.Add(name);
    }

    /// <summary>Replaces the location of the VM of <paramref name="entry"/>, on the same node.</summary>
    public void Set(DirectoryVm entry, VmLocation location) => Set(entry with { Location = location });

    /// <summary>Forgets the VM; returns whether the directory knew it.</summary>
    public bool Remove(string name)
    {
        if (!_vms.Remove(name, out var old)) return false;
        Uncount(old);
        _changed.Add(name);
        return true;
    }

    /// <summary>
    /// The VMs changed and the names removed since the last call (each name once, as it is now): what a copy to the
    /// agents that hold the previous one carries.
    /// </summary>
    public (List<VmLocation> Changed, List<string> Removed) TakeChanges()
    {
        var changed = new List<VmLocation>();
        var removed = new List<string>();
        foreach (var name in _changed)
        {
            if (_vms.TryGetValue(name, out var e)) changed.Add(e.Location);
            else removed.Add(name);
        }
        _changed.Clear();
        return (changed, removed);
    }

    private void Uncount(DirectoryVm old)
    {
        _totals[old.Address].Count(old.Location, -1);
        _marked.Remove(old.Location.Name);
    }

    /// <summary>Records the announcing node (logging a name two nodes share, and a node seen for the first time).</summary>
    public void AddNode(NodeInfo info, Address address, IActorRef agent)
    {
        if (Nodes.Values.FirstOrDefault(n => n.Info.Name == info.Name && n.Address != address) is { } clash)
            log.Error("Two nodes are named {0}: {1} and {2}; VMs can only be placed on one of them by name", info.Name, clash.Address, address);
        bool known = Nodes.ContainsKey(address);
        Nodes[address] = new DirectoryNode(info, address, agent);
        if (!known) log.Info("Hypervisor {0} at {1}: {2}, {3} vCPUs, {4} MiB", info.Name, address, info.AcceleratorDescription, info.Vcpus, info.MemoryBytes >> 20);
    }

    /// <summary>
    /// Places a new VM (<see cref="Placement"/> over <paramref name="loads"/>): returns why not (its name is taken, or
    /// no node fits it), or null with the node chosen, where the VM is now listed as being created.
    /// </summary>
    public ApiErrorReply? Place(ApiVmSpec spec, Func<List<NodeLoad>> loads, out DirectoryNode node)
    {
        node = null!;
        if (Vms.TryGetValue(spec.Name, out var existing)) return DirectoryErrors.AlreadyExists(spec.Name, existing.Location);
        var placed = Placement.Choose(loads(), spec);
        if (placed.Error is { } error) return error;
        node = Nodes.Values.First(n => n.Address.ToString() == placed.Node!.Address);
        Set(new DirectoryVm(new VmLocation(spec.Name, node.Info.Name, node.Address.ToString(), spec.Vcpus, spec.MemoryBytes, spec.Image, true, VmStatus.Creating), node.Address));
        return null;
    }

    /// <summary>
    /// The node's VMs are those it announced: the others the directory had there (but those being created) are removed
    /// with <paramref name="remove"/>; a VM already known live on another node keeps its first place.
    /// </summary>
    public void ApplyVms(NodeAnnouncement a, Address address, Action<string> remove)
    {
        var announced = a.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var stale in Vms.Values.Where(e => e.Address == address && e.Location.Marker != VmStatus.Creating && !announced.ContainsKey(e.Location.Name)).ToList())
            remove(stale.Location.Name);
        foreach (var vm in a.Vms)
        {
            if (Vms.TryGetValue(vm.Name, out var existing) && existing.Address != address && existing.Location.Marker != VmStatus.Lost)
            {
                log.Error("VM {0} is reported by {1} but already known on {2}; keeping the first", vm.Name, a.Node.Name, existing.Location.Node);
                continue;
            }
            Set(new DirectoryVm(VmLocation.Of(vm, address.ToString()), address));
        }
    }

    /// <summary>
    /// Takes the VMs of departed nodes from a snapshot, as Lost (VMs of <paramref name="live"/> nodes come from those
    /// nodes' own announcements); returns those that were not Lost already, whose subscribers are to hear of it.
    /// </summary>
    public List<DirectoryVm> RecoverDeparted(IEnumerable<VmLocation> locations, HashSet<Address> live)
    {
        var recovered = new List<DirectoryVm>();
        foreach (var location in locations)
        {
            var address = Address.Parse(location.NodeAddress);
            if (live.Contains(address) || Vms.ContainsKey(location.Name)) continue;
            var lost = location.Marker == VmStatus.Lost ? location
                : location with { Marker = VmStatus.Lost, Outcome = $"node {location.Node} left the cluster{(location.Marker == VmStatus.Creating ? " while the VM was being created" : "")}" };
            var entry = new DirectoryVm(lost, address);
            Set(entry);
            if (location.Marker != VmStatus.Lost) recovered.Add(entry);
        }
        return recovered;
    }

    /// <summary>The node is gone (<paramref name="how"/>): it is forgotten and its VMs are marked Lost; returns those newly Lost.</summary>
    public List<DirectoryVm> RemoveNode(Address address, string how)
    {
        var name = Nodes.TryGetValue(address, out var node) ? node.Info.Name : address.ToString();
        Nodes.Remove(address);
        var lost = Vms.Values.Where(e => e.Address == address && e.Location.Marker != VmStatus.Lost).ToList();
        if (lost.Count > 0) log.Warning("Node {0} {1}: {2} VM(s) are Lost", name, how, lost.Count);
        for (int i = 0; i < lost.Count; i++)
        {
            var e = lost[i];
            var was = e.Location.Marker == VmStatus.Creating ? " while the VM was being created" : "";
            Set(e, e.Location with { Marker = VmStatus.Lost, Outcome = $"node {name} {how}{was}" });
            lost[i] = Vms[e.Location.Name];
        }
        return lost;
    }
}
