using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// The <see cref="HypervisorAgent"/>'s bookkeeping of the event subscribers of the VMs it runs (kept in each
/// <see cref="HostedVm"/>): subscriptions waiting for the registry's current line of the VM, the subscribers it
/// streams each change to, watching them through the agent's context, and the ends of their streams. Owned by the
/// agent and used only from its thread; <paramref name="vms"/> is the agent's own table.
/// </summary>
internal sealed class AgentEventSubscribers(IActorContext context, IReadOnlyDictionary<string, HostedVm> vms)
{
    /// <summary>Holds a subscription until the registry's current line of the VM arrives; true if the line is to be asked for (the first one waiting).</summary>
    public bool Hold(HostedVm vm, IActorRef subscriber, IActorRef replyTo)
    {
        vm.PendingSubscriptions.Add((subscriber, replyTo));
        return vm.PendingSubscriptions.Count == 1;
    }

    /// <summary>The current line arrived: every waiting subscription is confirmed and told the VM's current state.</summary>
    public void Start(HostedVm vm, VmInfo record)
    {
        foreach (var (subscriber, replyTo) in vm.PendingSubscriptions)
        {
            if (vm.EventSubscribers.Add(subscriber)) context.Watch(subscriber);
            replyTo.Tell(new SubscribedReply(record.Name, "events", true));
            subscriber.Tell(Notice(record, "current state"));
        }
        vm.PendingSubscriptions.Clear();
    }

    /// <summary>Every waiting subscription is answered with <paramref name="error"/>.</summary>
    public void Refuse(HostedVm vm, ApiErrorReply error)
    {
        foreach (var (_, replyTo) in vm.PendingSubscriptions) replyTo.Tell(error);
        vm.PendingSubscriptions.Clear();
    }

    /// <summary>Tells every subscriber of the VM of a change.</summary>
    public void Notify(HostedVm vm, VmInfo record, string detail)
    {
        var notice = Notice(record, detail);
        foreach (var s in vm.EventSubscribers) s.Tell(notice);
    }

    /// <summary>
    /// The VM (already out of the agent's table) was destroyed: its streams end, a subscriber of no other VM is no longer
    /// watched, and the waiting subscriptions are answered with <paramref name="notHere"/>.
    /// </summary>
    public void EndAll(string name, HostedVm vm, ApiErrorReply notHere)
    {
        foreach (var s in vm.EventSubscribers)
        {
            s.Tell(new StreamEnded(name, "the VM was destroyed"));
            UnwatchIfFollowingNone(s);
        }
        foreach (var (_, replyTo) in vm.PendingSubscriptions) replyTo.Tell(notHere);
    }

    /// <summary>
    /// <paramref name="subscribers"/> no longer follow <paramref name="vm"/> (they unsubscribed, or went with it to another
    /// node): each is removed from it, and one that follows no other VM here is no longer watched.
    /// </summary>
    public void Remove(HostedVm vm, IEnumerable<IActorRef> subscribers)
    {
        foreach (var s in subscribers.ToList())
        {
            vm.EventSubscribers.Remove(s);
            UnwatchIfFollowingNone(s);
        }
    }

    // A subscriber that follows no VM in the agent's table any more is no longer watched.
    private void UnwatchIfFollowingNone(IActorRef subscriber)
    {
        if (!vms.Values.Any(vm => vm.EventSubscribers.Contains(subscriber))) context.Unwatch(subscriber);
    }

    /// <summary>A subscriber stopped: it is removed from every VM.</summary>
    public void Stopped(IActorRef subscriber)
    {
        foreach (var hosted in vms.Values) hosted.EventSubscribers.Remove(subscriber);
    }

    private static VmEventNotice Notice(VmInfo vm, string detail) => new(vm.Name, vm.Node, vm.Status, detail, DateTimeOffset.UtcNow);
}
