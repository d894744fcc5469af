using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>One outstanding fetch of an <see cref="AsyncPfQueue"/> (struct kvm_async_pf): its page, its worker, and once done its outcome.</summary>
internal sealed class AsyncPfWork(long id, ulong page, IActorRef actor)
{
    /// <summary>The queue's number for it, which its worker reports with.</summary>
    public long Id { get; } = id;

    /// <summary>The page of the region it fetches.</summary>
    public ulong Page { get; } = page;

    /// <summary>Its <see cref="AsyncPfWorker"/>.</summary>
    public IActorRef Actor { get; } = actor;

    /// <summary>How the fetch ended, once it has.</summary>
    public FetchOutcome? Outcome { get; set; }
}
