using System.Diagnostics;
using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Lazy;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The fill worker of <see cref="FillLazyMemory"/>: installs every page of the lazy region that is still missing,
/// in order, with one UFFDIO_COPY (or UFFDIO_ZEROPAGE) per page, on a thread-pool thread; completes any vCPU
/// fault on a page it installs; answers the requester and stops. Cancelled by a flush like every worker.
/// </summary>
internal sealed class LazyMemoryFiller : ReceiveActor
{
    private const int PageBytes = 4096;

    private readonly AsyncPfRouter _router;
    private readonly IActorRef _requester;
    private readonly string _vmName;

    /// <summary>Props for a fill answering <paramref name="requester"/>.</summary>
    public static Props Props(AsyncPfRouter router, IActorRef requester, string vmName) =>
        Akka.Actor.Props.Create(() => new LazyMemoryFiller(router, requester, vmName));

    public LazyMemoryFiller(AsyncPfRouter router, IActorRef requester, string vmName)
    {
        _router = router;
        _requester = requester;
        _vmName = vmName;
        Receive<LazyMemoryFilled>(filled =>
        {
            _requester.Tell(filled);
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _router.FetchStarted();
        Task.Run(FillAsync).PipeTo(Self);
    }

    private async Task<LazyMemoryFilled> FillAsync()
    {
        var clock = Stopwatch.StartNew();
        var progress = new FillProgress();
        string? problem = null;
        try
        {
            var region = _router.Region;
            var cancellation = _router.Cancellation;
            var buffer = new byte[PageBytes];
            while (progress.NextPage < region.PageCount && problem is null)
            {
                // Synchronously for as long as the store answers at once (a file in the page cache); a read that
                // is really pending is awaited here and its page installed before the loop goes on.
                var pending = FillWhileSynchronous(region, buffer, cancellation, progress, out problem);
                if (pending is { } read)
                {
                    var content = await read.ConfigureAwait(false);
                    problem = Install(region, progress.NextPage, content, buffer, progress);
                    progress.NextPage++;
                }
            }
        }
        catch (OperationCanceledException)
        {
            problem = "cancelled by the VM's teardown";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            problem = $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            _router.CountFilled(progress.Installed);
            _router.FetchEnded();
        }
        return new LazyMemoryFilled(_vmName, progress.Installed, progress.Present, clock.Elapsed, problem is null, problem);
    }

    // The hot loop of a fill from a fast store: optimized at once rather than after tiering, so that a fill's
    // rate does not depend on how warm the JIT is.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask<PageContent>? FillWhileSynchronous(LazyGuestMemory region, byte[] buffer, CancellationToken cancellation, FillProgress progress, out string? problem)
    {
        problem = null;
        var store = _router.Store;
        int attempts = _router.Options.ReadAttempts;
        ulong pageCount = region.PageCount;
        for (; progress.NextPage < pageCount; progress.NextPage++)
        {
            ulong page = progress.NextPage;
            if (cancellation.IsCancellationRequested)
            {
                problem = "cancelled by the VM's teardown";
                return null;
            }
            if (region.IsPresent(page))
            {
                progress.Present++;
                continue;
            }
            ValueTask<PageContent> read;
            progress.PageStarted = Stopwatch.GetTimestamp();
            try
            {
                read = store.ReadPageAsync(page, buffer, cancellation);
            }
            catch (BackingStoreException) when (attempts > 1)
            {
                return PageFetch.ReadAsync(store, page, buffer, attempts - 1, cancellation); // the retries
            }
            if (!read.IsCompletedSuccessfully) return RetryIfFailedAsync(read, page, buffer, cancellation);
            problem = Install(region, page, read.Result, buffer, progress);
            if (problem is not null) return null;
        }
        return null;
    }

    private async ValueTask<PageContent> RetryIfFailedAsync(ValueTask<PageContent> read, ulong page, byte[] buffer, CancellationToken cancellation)
    {
        try
        {
            return await read.ConfigureAwait(false);
        }
        catch (BackingStoreException) when (_router.Options.ReadAttempts > 1 && !cancellation.IsCancellationRequested)
        {
            return await PageFetch.ReadAsync(_router.Store, page, buffer, _router.Options.ReadAttempts - 1, cancellation).ConfigureAwait(false);
        }
    }

    private string? Install(LazyGuestMemory region, ulong page, PageContent content, byte[] buffer, FillProgress progress)
    {
        var install = content == PageContent.Zero ? region.TryInstallZero(page) : region.TryInstall(page, buffer);
        if (install == PageInstall.RegionClosed) return "the lazy memory was torn down";
        _router.OnPageInstalled(page);
        if (install == PageInstall.Installed)
        {
            progress.Installed++;
            Metrics.ActorsMeter.PageFilled(Stopwatch.GetElapsedTime(progress.PageStarted).TotalSeconds);
        }
        else
        {
            progress.Present++;
        }
        return null;
    }

    private sealed class FillProgress
    {
        public ulong NextPage;
        public long Installed, Present;
        public long PageStarted; // Stopwatch timestamp of the current page's read

    }
}
