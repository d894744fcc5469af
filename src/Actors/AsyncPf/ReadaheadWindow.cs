namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// An <see cref="AsyncPfQueue"/>'s readahead window: it follows the last fault, pages (fault, fault + window] of the
/// region (the memslot), and hands out the pages after the fault not asked for yet. Owned by the queue and used only
/// from its thread.
/// </summary>
internal sealed class ReadaheadWindow
{
    private ulong _cursor, _horizon;

    /// <summary>Whether a fault has placed the window yet.</summary>
    public bool IsPlaced { get; private set; }

    /// <summary>Moves the window to follow a fault on <paramref name="page"/> (none with a window of 0 pages).</summary>
    public void Move(ulong page, int window, ulong pageCount)
    {
        if (window == 0) return;
        ulong last = Math.Min(page + (ulong)window, pageCount - 1);
        // Keep the cursor if it is inside the new window (those pages are already asked for).
        if (!IsPlaced || _cursor <= page || _cursor > last + 1) _cursor = page + 1;
        _horizon = last;
        IsPlaced = true;
    }

    /// <summary>The next page of the window not handed out yet, if any.</summary>
    public bool TryNext(out ulong page)
    {
        page = _cursor;
        if (_cursor > _horizon) return false;
        _cursor++;
        return true;
    }
}
