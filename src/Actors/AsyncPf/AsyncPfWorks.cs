using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// An <see cref="AsyncPfQueue"/>'s outstanding works (async_pf.queue), found by page (a fault on a page in flight joins
/// it), by id (the worker's report) and by worker (its Terminated). Owned by the queue and used only from its thread.
/// </summary>
internal sealed class AsyncPfWorks
{
    private readonly Dictionary<ulong, AsyncPfWork> _byPage = new();
    private readonly Dictionary<long, AsyncPfWork> _byId = new();
    private readonly Dictionary<IActorRef, AsyncPfWork> _byActor = new();

    /// <summary>How many works have not reported yet.</summary>
    public int Count => _byId.Count;

    /// <summary>Whether a fetch of <paramref name="page"/> is in flight.</summary>
    public bool HasPage(ulong page) => _byPage.ContainsKey(page);

    /// <summary>Lists a work just started.</summary>
    public void Add(AsyncPfWork work)
    {
        _byPage[work.Page] = work;
        _byId[work.Id] = work;
        _byActor[work.Actor] = work;
    }

    /// <summary>The work of that id, if it has not reported yet.</summary>
    public bool TryGet(long id, out AsyncPfWork work) => _byId.TryGetValue(id, out work!);

    /// <summary>The work of that worker, if it has not reported yet.</summary>
    public bool TryGet(IActorRef worker, out AsyncPfWork work) => _byActor.TryGetValue(worker, out work!);

    /// <summary>Takes a work that reported off the list.</summary>
    public void Remove(AsyncPfWork work)
    {
        _byId.Remove(work.Id);
        _byActor.Remove(work.Actor);
        if (_byPage.TryGetValue(work.Page, out var listed) && listed == work) _byPage.Remove(work.Page);
    }
}
