using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// One host-side wait for guest pages: the request, who to answer, and the pages still missing. A class: each request
/// is its own waiter, however alike two requests are.
/// </summary>
internal sealed class HostPageWaiter(AwaitGuestPages request, IActorRef requester, HashSet<ulong> pages)
{
    /// <summary>What was asked.</summary>
    public AwaitGuestPages Request { get; } = request;

    /// <summary>Who gets the <see cref="GuestPagesReleased"/>.</summary>
    public IActorRef Requester { get; } = requester;

    /// <summary>The pages still missing.</summary>
    public HashSet<ulong> Pages { get; } = pages;
}
