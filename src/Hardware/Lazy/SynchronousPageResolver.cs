using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// The synchronous fault path: on the reader thread, reads the faulting page from the backing store and
/// installs it before taking the next fault (async_pf.c's fallback when a fault cannot go to a worker).
/// A failed read is retried up to <see cref="MaxAttempts"/> times; after that the fault stays pending (the
/// faulting thread stays blocked) and <see cref="PageFailed"/> reports it, since userfaultfd has no way to fail
/// one fault short of killing the thread.
/// </summary>
public sealed class SynchronousPageResolver : IStoreBackedFaultSink
{
    [ThreadStatic] private static byte[]? t_page;
    private long _installed, _alreadyPresent, _failed, _retries;

    /// <summary>Resolves faults from <paramref name="store"/>, trying each read up to <paramref name="maxAttempts"/> times.</summary>
    public SynchronousPageResolver(IBackingStore store, int maxAttempts = 3)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAttempts);
        Store = store;
        MaxAttempts = maxAttempts;
    }

    /// <summary>Where pages come from.</summary>
    public IBackingStore Store { get; }

    /// <summary>Reads per fault before giving up.</summary>
    public int MaxAttempts { get; }

    /// <summary>Pages this resolver installed.</summary>
    public long Installed => Interlocked.Read(ref _installed);

    /// <summary>Faults that found the page already installed (a duplicate fault or a lost race; not an error).</summary>
    public long AlreadyPresent => Interlocked.Read(ref _alreadyPresent);

    /// <summary>Faults left pending because every read failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Reads retried after a failure.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Raised on the reader thread when a fault's page could not be read: the region, the page, the last error.</summary>
    public event Action<LazyGuestMemory, ulong, Exception>? PageFailed;

    /// <inheritdoc />
    public void OnPageFault(LazyGuestMemory region, PageFault fault)
    {
        try
        {
            Resolve(region, fault.PageIndex);
        }
        catch (BackingStoreException e)
        {
            Interlocked.Increment(ref _failed);
            PageFailed?.Invoke(region, fault.PageIndex, e);
        }
    }

    /// <summary>
    /// Makes page <paramref name="pageIndex"/> of <paramref name="region"/> present: reads it from the store and
    /// installs it (UFFDIO_ZEROPAGE for zero pages, UFFDIO_COPY otherwise). Usable from any thread, e.g. by host
    /// code that needs a page before reading it.
    /// </summary>
    /// <exception cref="BackingStoreException">every attempt to read the page failed.</exception>
    public PageInstall Resolve(LazyGuestMemory region, ulong pageIndex)
    {
        ArgumentNullException.ThrowIfNull(region);
        // A store read may take as long as the backing store likes: never with mmu_lock held (see SoftMmu's slow path).
        MmuLock.AssertNotHeld("read a lazy page from its backing store");
        if (region.IsClosed) return PageInstall.RegionClosed;
        if (region.IsPresent(pageIndex)) return Count(PageInstall.AlreadyPresent);
        var page = t_page ??= new byte[PageSize.Bytes];
        PageContent content;
        try
        {
            content = Read(region, pageIndex, page);
        }
        catch (OperationCanceledException) when (region.Closing.IsCancellationRequested)
        {
            return PageInstall.RegionClosed;
        }
        return Count(content == PageContent.Zero ? region.TryInstallZero(pageIndex) : region.TryInstall(pageIndex, page));
    }

    private PageContent Read(LazyGuestMemory region, ulong pageIndex, byte[] page)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var pending = Store.ReadPageAsync(pageIndex, page, region.Closing);
                return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            }
            catch (BackingStoreException) when (attempt < MaxAttempts)
            {
                Interlocked.Increment(ref _retries);
            }
        }
    }

    private PageInstall Count(PageInstall result)
    {
        if (result == PageInstall.Installed) Interlocked.Increment(ref _installed);
        else if (result == PageInstall.AlreadyPresent) Interlocked.Increment(ref _alreadyPresent);
        return result;
    }
}
