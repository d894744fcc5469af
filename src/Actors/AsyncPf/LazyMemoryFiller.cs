using System.Diagnostics;
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
        long installed = 0, present = 0;
        string? problem = null;
        try
        {
            var region = _router.Region;
            var store = _router.Store;
            var cancellation = _router.Cancellation;
            var buffer = new byte[PageBytes];
            for (ulong page = 0; page < region.PageCount; page++)
            {
                if (cancellation.IsCancellationRequested)
                {
                    problem = "cancelled by the VM's teardown";
                    break;
                }
                if (region.IsPresent(page))
                {
                    present++;
                    continue;
                }
                var content = await PageFetch.ReadAsync(store, page, buffer, _router.Options.ReadAttempts, cancellation).ConfigureAwait(false);
                var install = content == PageContent.Zero ? region.TryInstallZero(page) : region.TryInstall(page, buffer);
                if (install == PageInstall.RegionClosed)
                {
                    problem = "the lazy memory was torn down";
                    break;
                }
                _router.OnPageInstalled(page);
                if (install == PageInstall.Installed) installed++;
                else present++;
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
            _router.CountFilled(installed);
            _router.FetchEnded();
        }
        return new LazyMemoryFilled(_vmName, installed, present, clock.Elapsed, problem is null, problem);
    }
}
