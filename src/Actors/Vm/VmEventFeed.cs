using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Where a VmActor's <see cref="VmEvent"/>s go: the subscribers it owns and, for the events the node tracks
/// (state changes, the end), its parent. Nothing is published to the EventStream: nothing subscribes there.
/// </summary>
internal sealed class VmEventFeed(IActorRef self, IActorRef parent)
{
    private readonly HashSet<IActorRef> _subscribers = new();

    /// <summary>Adds <paramref name="subscriber"/>.</summary>
    public void Subscribe(IActorRef subscriber) => _subscribers.Add(subscriber);

    /// <summary>Removes <paramref name="subscriber"/>.</summary>
    public void Unsubscribe(IActorRef subscriber) => _subscribers.Remove(subscriber);

    /// <summary>Sends <paramref name="e"/> to every subscriber, and to the parent if <paramref name="toParent"/>.</summary>
    public void Publish(VmEvent e, bool toParent)
    {
        foreach (var s in _subscribers) s.Tell(e, self);
        if (toParent) parent.Tell(e, self);
    }
}
