using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The <see cref="VmDirectory"/>'s event subscribers, owned by it and used only from its thread: those of every VM,
/// those of a VM held until it is built, and the loss followers (subscriptions sent on to a VM's node, told here only
/// of the VM's loss, which its node cannot report). It watches each subscriber through the directory's context,
/// sends them the directory's notices and stream ends, and copies them into and out of the directory's snapshot.
/// </summary>
internal sealed class DirectorySubscriptions(IActorContext context)
{
    private readonly Dictionary<string, HashSet<IActorRef>> _vmSubscribers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _lossFollowers = new(StringComparer.Ordinal);
    private readonly HashSet<IActorRef> _allSubscribers = new();

    /// <summary>Goes up with every change of the subscriptions (a copy to the agents carries them only when it moved).</summary>
    public long Version { get; private set; }

    /// <summary>Every subscription, as the directory's snapshot carries it.</summary>
    public List<EventSubscription> Snapshot() =>
        _allSubscribers.Select(s => new EventSubscription(null, s))
            .Concat(_vmSubscribers.SelectMany(kv => kv.Value.Select(s => new EventSubscription(kv.Key, s))))
            .Concat(_lossFollowers.SelectMany(kv => kv.Value.Select(s => new EventSubscription(kv.Key, s, LossOnly: true)))).ToList();

    /// <summary>Takes back the subscriptions of a snapshot (the directory recovering after it moved).</summary>
    public void Restore(IEnumerable<EventSubscription> subscriptions)
    {
        Version++;
        foreach (var sub in subscriptions)
        {
            if (sub.Vm is null) _allSubscribers.Add(sub.Subscriber);
            else Add(sub.LossOnly ? _lossFollowers : _vmSubscribers, sub.Vm, sub.Subscriber);
            context.Watch(sub.Subscriber);
        }
    }

    /// <summary>A subscriber to the events of every VM.</summary>
    public void SubscribeToAll(IActorRef subscriber)
    {
        Version++;
        _allSubscribers.Add(subscriber);
        context.Watch(subscriber);
    }

    /// <summary>A subscriber to <paramref name="vm"/>'s events held here (the VM is still being created).</summary>
    public void SubscribeToVm(string vm, IActorRef subscriber)
    {
        Add(_vmSubscribers, vm, subscriber);
        context.Watch(subscriber);
    }

    /// <summary>
    /// A subscription to a VM the directory itself answers for: one being created is held here until the VM is built
    /// (its node streams it from then on only to new subscriptions); of a Lost one, nothing more will happen: the
    /// subscriber learns that, and the stream ends.
    /// </summary>
    public void SubscribeToMarked(VmLocation vm, IActorRef subscriber, IActorRef replyTo)
    {
        if (vm.Marker == VmStatus.Creating)
        {
            SubscribeToVm(vm.Name, subscriber);
            replyTo.Tell(new SubscribedReply(vm.Name, "events", true));
            subscriber.Tell(Notice(vm.MarkedInfo(), "current state"));
            return;
        }
        replyTo.Tell(new SubscribedReply(vm.Name, "events", true));
        TellLost(subscriber, vm);
    }

    /// <summary>A subscriber whose subscription went to <paramref name="vm"/>'s node: told here only of the VM's loss.</summary>
    public void FollowLoss(string vm, IActorRef subscriber)
    {
        Add(_lossFollowers, vm, subscriber);
        context.Watch(subscriber);
    }

    /// <summary>Follows <paramref name="vm"/>'s loss for <paramref name="subscriber"/>; if it is Lost already, tells it at once and returns false.</summary>
    public bool FollowLossOf(VmLocation vm, IActorRef subscriber)
    {
        if (vm.Marker == VmStatus.Lost)
        {
            TellLost(subscriber, vm);
            return false;
        }
        FollowLoss(vm.Name, subscriber);
        return true;
    }

    /// <summary>Ends <paramref name="subscriber"/>'s subscription to one VM (it stays watched, as for its other ones).</summary>
    public void UnsubscribeFromVm(string vm, IActorRef subscriber)
    {
        Version++;
        if (_vmSubscribers.TryGetValue(vm, out var set)) set.Remove(subscriber);
        if (_lossFollowers.TryGetValue(vm, out var followers)) followers.Remove(subscriber);
    }

    /// <summary>Forgets <paramref name="subscriber"/> everywhere (it unsubscribed from everything, or it stopped).</summary>
    public void Remove(IActorRef subscriber)
    {
        Version++;
        _allSubscribers.Remove(subscriber);
        foreach (var set in _vmSubscribers.Values) set.Remove(subscriber);
        foreach (var set in _lossFollowers.Values) set.Remove(subscriber);
        context.Unwatch(subscriber);
    }

    /// <summary>The VM's name is free again: nobody follows its loss any more.</summary>
    public void ForgetLossFollowers(string vm)
    {
        if (_lossFollowers.Remove(vm)) Version++;
    }

    /// <summary>Tells the VM's subscribers held here and those of every VM what happened to it.</summary>
    public void Notify(VmInfo vm, string detail)
    {
        var notice = Notice(vm, detail);
        if (_vmSubscribers.TryGetValue(vm.Name, out var set))
            foreach (var s in set) s.Tell(notice);
        foreach (var s in _allSubscribers) s.Tell(notice);
    }

    /// <summary>Sends <paramref name="message"/> to the subscribers of every VM's events.</summary>
    public void TellEveryVmSubscriber(IApiMessage message)
    {
        foreach (var s in _allSubscribers) s.Tell(message);
    }

    /// <summary>Ends the streams of the VM's subscribers held here; with <paramref name="keep"/> its (empty) set stays.</summary>
    public void EndSubscriptions(string vm, string reason, bool keep = false)
    {
        if (!_vmSubscribers.TryGetValue(vm, out var set)) return;
        Version++;
        foreach (var s in set) s.Tell(new StreamEnded(vm, reason));
        if (!keep) _vmSubscribers.Remove(vm);
        else set.Clear();
    }

    /// <summary>
    /// Every subscriber of the VM hears of its loss: those held here, those whose subscription went to its node, and
    /// those of every VM.
    /// </summary>
    public void ReportLost(VmLocation lost)
    {
        var name = lost.Name;
        Notify(lost.MarkedInfo(), lost.Outcome!);
        EndSubscriptions(name, lost.Outcome!, keep: true);
        if (!_lossFollowers.Remove(name, out var followers)) return;
        Version++;
        foreach (var s in followers) TellLost(s, lost);
    }

    /// <summary>Tells one subscriber that the VM is Lost, and ends its stream.</summary>
    public static void TellLost(IActorRef subscriber, VmLocation lost)
    {
        subscriber.Tell(Notice(lost.MarkedInfo(), lost.Outcome ?? $"node {lost.Node} is gone"));
        subscriber.Tell(new StreamEnded(lost.Name, lost.Outcome ?? $"node {lost.Node} is gone"));
    }

    /// <summary>The event notice the directory sends for <paramref name="vm"/>.</summary>
    public static VmEventNotice Notice(VmInfo vm, string detail) => new(vm.Name, vm.Node, vm.Status, detail, DateTimeOffset.UtcNow);

    private void Add(Dictionary<string, HashSet<IActorRef>> sets, string vm, IActorRef subscriber)
    {
        Version++;
        if (!sets.TryGetValue(vm, out var set)) sets[vm] = set = new HashSet<IActorRef>();
        set.Add(subscriber);
    }
}
