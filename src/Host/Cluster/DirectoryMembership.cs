using Akka.Actor;
using Akka.Cluster;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// Cluster membership as the <see cref="VmDirectory"/>'s own subscription has delivered it, with the announcements of
/// nodes it has not yet seen join (held until their member event arrives). Cluster.State is updated by another actor
/// and can lag behind both these events and the announcements that follow them, so the directory consults this
/// instead. Owned by the directory and used only from its thread.
/// </summary>
internal sealed class DirectoryMembership
{
    private readonly Dictionary<Address, MemberStatus> _members = new();
    private readonly Dictionary<Address, (NodeAnnouncement Announcement, IActorRef Sender)> _early = new();
    private readonly Dictionary<Address, UniqueAddress> _incarnations = new();

    /// <summary>
    /// Whether <paramref name="member"/>'s event is the end (Down, Removed) of an incarnation already replaced at its
    /// address: a node killed and started again on the same port joins as a new incarnation, and when the directory
    /// is slow its events can come in one batch, the new one's Joining or Up before the old one's Removed. Such an
    /// event is not about the node that is there now.
    /// </summary>
    public bool IsSuperseded(Member member) =>
        member.Status is MemberStatus.Down or MemberStatus.Removed
        && _incarnations.TryGetValue(member.Address, out var current) && !current.Equals(member.UniqueAddress);

    /// <summary>
    /// Records <paramref name="member"/>'s status; returns the announcement held for it, now to be applied (none once
    /// the member is down or removed: its held announcement is dropped). The end of a superseded incarnation
    /// (<see cref="IsSuperseded"/>) changes nothing.
    /// </summary>
    public (NodeAnnouncement Announcement, IActorRef Sender)? Track(Member member)
    {
        if (IsSuperseded(member)) return null;
        if (member.Status is not (MemberStatus.Down or MemberStatus.Removed)) _incarnations[member.Address] = member.UniqueAddress;
        _members[member.Address] = member.Status;
        if (member.Status is MemberStatus.Down or MemberStatus.Removed) _early.Remove(member.Address);
        else if (_early.Remove(member.Address, out var early)) return early;
        return null;
    }

    /// <summary>The member's last known status, if its member event has arrived.</summary>
    public bool TryGetStatus(Address address, out MemberStatus status) => _members.TryGetValue(address, out status);

    /// <summary>Keeps the latest announcement of a node not seen yet, to apply when it is.</summary>
    public void HoldEarly(Address address, NodeAnnouncement announcement, IActorRef sender) => _early[address] = (announcement, sender);

    /// <summary>The members that are neither down, removed nor leaving.</summary>
    public HashSet<Address> Live() =>
        _members.Where(m => m.Value is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting)).Select(m => m.Key).ToHashSet();
}
