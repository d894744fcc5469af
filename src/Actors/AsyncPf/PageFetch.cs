using System.Buffers;
using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// async_pf_execute: fetches one page from the VM's backing store and installs it (UFFDIO_COPY, or
/// UFFDIO_ZEROPAGE for a zero page), then completes the faults waiting on it. The body of every worker and of
/// the queue's synchronous path. Never throws: every ending is a <see cref="FetchOutcome"/>.
/// </summary>
internal static class PageFetch
{
    private const int PageBytes = 4096;

    /// <summary>Fetches and installs page <paramref name="page"/> of <paramref name="router"/>'s region.</summary>
    public static async Task<FetchOutcome> RunAsync(AsyncPfRouter router, ulong page)
    {
        router.FetchStarted();
        var buffer = ArrayPool<byte>.Shared.Rent(PageBytes);
        try
        {
            var region = router.Region;
            var cancellation = router.Cancellation;
            var content = await ReadAsync(router.Store, page, buffer.AsMemory(0, PageBytes), router.Options.ReadAttempts, cancellation).ConfigureAwait(false);
            // A flush that began while the read was in flight discards its result: nothing is written.
            if (cancellation.IsCancellationRequested) return FetchOutcome.Cancelled;
            var install = content == PageContent.Zero ? region.TryInstallZero(page) : region.TryInstall(page, buffer.AsSpan(0, PageBytes));
            if (install != PageInstall.RegionClosed) router.OnPageInstalled(page);
            return FetchOutcome.From(install);
        }
        catch (OperationCanceledException)
        {
            return FetchOutcome.Cancelled;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new FetchOutcome(FetchResult.Failed, e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            router.FetchEnded();
        }
    }

    /// <summary>Reads page <paramref name="page"/>, retrying a failed read up to <paramref name="attempts"/> times in all.</summary>
    public static async ValueTask<PageContent> ReadAsync(IBackingStore store, ulong page, Memory<byte> buffer, int attempts, CancellationToken cancellation)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await store.ReadPageAsync(page, buffer, cancellation).ConfigureAwait(false);
            }
            catch (BackingStoreException) when (attempt < attempts && !cancellation.IsCancellationRequested)
            {
            }
        }
    }
}
