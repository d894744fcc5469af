using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// One outstanding async page fault (struct kvm_async_pf + its work item): fetches one page from the backing
/// store and installs it, off every actor thread (<see cref="PageFetch"/>), completes the waiting fault at once
/// from the installing thread, then reports "page ready" (<see cref="PageFetched"/>) to its vCPU's queue and
/// stops. A child of that queue; a readahead page is fetched by the same kind of worker.
/// </summary>
internal sealed class AsyncPfWorker : ReceiveActor
{
    private readonly AsyncPfRouter _router;
    private readonly AsyncPfVcpu _vcpu;
    private readonly ulong _page;
    private readonly long _workId;
    private bool _working;

    /// <summary>Props for work <paramref name="workId"/>: page <paramref name="page"/> for vCPU <paramref name="vcpu"/>.</summary>
    public static Props Props(AsyncPfRouter router, AsyncPfVcpu vcpu, ulong page, long workId) =>
        Akka.Actor.Props.Create(() => new AsyncPfWorker(router, vcpu, page, workId));

    public AsyncPfWorker(AsyncPfRouter router, AsyncPfVcpu vcpu, ulong page, long workId)
    {
        _router = router;
        _vcpu = vcpu;
        _page = page;
        _workId = workId;
        Receive<FetchOutcome>(outcome =>
        {
            // Done working before the queue can free the slot: live workers never exceed the queue's count.
            StopWorking();
            Context.Parent.Tell(new PageFetched(_workId, _page, outcome));
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _working = true;
        _vcpu.Counters.WorkerStarted();
        PageFetch.RunAsync(_router, _page).PipeTo(Self);
    }

    /// <inheritdoc />
    protected override void PostStop() => StopWorking();

    private void StopWorking()
    {
        if (!_working) return;
        _working = false;
        _vcpu.Counters.WorkerStopped();
    }
}
