namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// One vCPU's guest-visible "page not present" tokens still waiting for their page (issue 15: the guest was told, its
/// task sleeps on the token). The vCPU thread adds a token when it sends the event; whoever installs the page takes the
/// page's tokens right after the install (<see cref="AsyncPfRouter.OnPageInstalled"/>), so "page ready" leaves from the
/// installing thread with no actor hop, as async_pf.c's worker queues its completion itself. The queue takes them on a
/// failed fetch or a wakeup-all (they are answered anyway: the guest retries) and drops them at a flush.
/// </summary>
/// <remarks>
/// Adding and taking are under one lock, so each token is taken exactly once. The vCPU thread adds its token before
/// it checks whether the page is present, and the installer marks the page present before it takes: whichever comes
/// second sees the other, so no token waits for an install that already happened.
/// </remarks>
internal sealed class GuestPageTokens
{
    private readonly object _gate = new();
    private readonly Dictionary<ulong, List<GuestPageToken>> _byPage = new();
    private int _count;

    /// <summary>Tokens waiting now.</summary>
    public int Count
    {
        get { lock (_gate) return _count; }
    }

    /// <summary>Token <paramref name="token"/> waits for page <paramref name="page"/> of the region from now on.</summary>
    public void Add(ulong page, uint token)
    {
        var waiting = new GuestPageToken(token, System.Diagnostics.Stopwatch.GetTimestamp());
        lock (_gate)
        {
            if (!_byPage.TryGetValue(page, out var tokens)) _byPage[page] = tokens = new List<GuestPageToken>(1);
            tokens.Add(waiting);
            _count++;
        }
    }

    /// <summary>Takes the tokens that wait for <paramref name="page"/> (none: an empty list, no allocation).</summary>
    public IReadOnlyList<GuestPageToken> Take(ulong page)
    {
        lock (_gate)
        {
            if (_count == 0 || !_byPage.Remove(page, out var tokens)) return [];
            _count -= tokens.Count;
            return tokens;
        }
    }

    /// <summary>Takes every waiting token.</summary>
    public IReadOnlyList<GuestPageToken> TakeAll()
    {
        lock (_gate)
        {
            var all = _byPage.Values.SelectMany(t => t).ToList();
            _byPage.Clear();
            _count = 0;
            return all;
        }
    }
}

/// <summary>A guest-visible token and when it began to wait (<see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
internal readonly record struct GuestPageToken(uint Token, long Since);
