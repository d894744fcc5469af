namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// An <see cref="AsyncPfQueue"/>'s pages that someone waits for without a blocked thread (a guest-visible "page not
/// present", a host waiter) but that found the queue at its limit: each gets a worker, in the order asked, as slots
/// free. Owned by the queue and used only from its thread.
/// </summary>
internal sealed class DeferredPages
{
    private readonly Queue<ulong> _order = new();
    private readonly HashSet<ulong> _pages = new();

    /// <summary>Pages waiting for a slot.</summary>
    public int Count => _order.Count;

    /// <summary>Whether <paramref name="page"/> waits for a slot.</summary>
    public bool Contains(ulong page) => _pages.Contains(page);

    /// <summary>Adds <paramref name="page"/> at the end (once).</summary>
    public void Add(ulong page)
    {
        if (_pages.Add(page)) _order.Enqueue(page);
    }

    /// <summary>The oldest page, left in place.</summary>
    public ulong Peek() => _order.Peek();

    /// <summary>Takes the oldest page off.</summary>
    public ulong Remove()
    {
        ulong page = _order.Dequeue();
        _pages.Remove(page);
        return page;
    }

    /// <summary>Forgets every page (a flush).</summary>
    public void Clear()
    {
        _order.Clear();
        _pages.Clear();
    }
}
