using Actorvisor.Hardware.Lazy;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The vCPU side of one vCPU's async page faults (struct kvm_vcpu's async_pf, async_pf.lock as a mailbox):
/// decides for each fault whether it joins a fetch in flight, gets a worker (kvm_setup_async_pf, at most
/// <see cref="AsyncPfOptions.PerVcpuLimit"/> outstanding, readahead included) or is resolved synchronously; keeps
/// the done list and consumes it in order of completion ("page present", kvm_check_async_pf_completion); fetches the
/// pages waited for without a blocked thread (the guest's "page not present" tokens, host waiters) the same way; posts
/// wakeup-all broadcasts (kvm_async_pf_wakeup_all); and flushes everything on teardown
/// (kvm_clear_async_pf_completion_queue). Its children are the <see cref="AsyncPfWorker"/>s.
/// </summary>
/// <remarks>
/// A vCPU thread blocked on a userfaultfd fault has one fault of its own at a time, so a fault also starts
/// readahead workers for the pages after it in the same memslot, up to <see cref="AsyncPfOptions.ReadaheadPages"/>
/// past the fault; they count against the same limit, and each consumed completion refills the window with the
/// slot it frees. The synchronous path runs on this actor (its mailbox waits, like a vCPU that faults a page in
/// itself), never on a thread of its own. A page waited for without a blocked thread is never fetched inside a handler:
/// at the limit it waits for the next free slot (<see cref="DeferredPages"/>), so a slow page cannot hold the queue
/// and every completion behind it. A guest-visible fault moves the readahead window like a fault does. Its parts,
/// helpers it owns: <see cref="AsyncPfWorks"/>, <see cref="ReadaheadWindow"/>, <see cref="DeferredPages"/>,
/// <see cref="HostPageWaiters"/> and <see cref="UnreadablePage"/>.
/// </remarks>
internal sealed class AsyncPfQueue : ReceiveActor
{
    private readonly AsyncPfRouter _router;
    private readonly AsyncPfVcpu _vcpu;
    private readonly string _vmName;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly AsyncPfWorks _works = new();                     // async_pf.queue
    private readonly Queue<AsyncPfWork?> _done = new();               // async_pf.done; null is a wakeup-all broadcast
    private readonly HostPageWaiters _hostWaiters;
    private readonly ReadaheadWindow _window = new();
    private readonly DeferredPages _deferred = new();
    private int _queued;                                              // async_pf.queued
    private long _nextWorkId;
    private readonly UnreadablePage _unreadable;                      // the page the vCPU waits on that could not be read
    private IActorRef? _flushRequester;
    private int _cancelledAtFlush;

    /// <summary>Props for vCPU <paramref name="vcpu"/>'s queue.</summary>
    public static Props Props(AsyncPfRouter router, AsyncPfVcpu vcpu, string vmName) =>
        Akka.Actor.Props.Create(() => new AsyncPfQueue(router, vcpu, vmName));

    public AsyncPfQueue(AsyncPfRouter router, AsyncPfVcpu vcpu, string vmName)
    {
        _router = router;
        _vcpu = vcpu;
        _vmName = vmName;
        _hostWaiters = new HostPageWaiters(vcpu, vmName);
        _unreadable = new UnreadablePage(router);
        ReceiveAsync<VcpuPageFault>(OnFaultAsync);
        Receive<PageFetched>(OnFetched);
        Receive<Terminated>(OnWorkerTerminated);
        Receive<DrainDone>(_ => Drain());
        Receive<WakeupAllAsyncPf>(_ => OnWakeupAll());
        Receive<AwaitGuestPages>(OnAwaitPages);
        Receive<GuestPageNotPresent>(m => OnGuestNotPresent(m.Page));
        Receive<FlushQueue>(_ => OnFlush());
        Receive<ReleaseUnreadableFaults>(_ => _unreadable.AskRelease());
    }

    private AsyncPfCounters Counters => _vcpu.Counters;

    private LazyGuestMemory Region => _router.Region;

    private int Limit => _router.Options.PerVcpuLimit;

    private bool Flushing => _flushRequester is not null;

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() =>
        // A worker that throws is stopped; its Terminated, with no result, counts as a failed fetch.
        new OneForOneStrategy(Decider.From(Directive.Stop));

    // ---- faults (kvm_setup_async_pf) ------------------------------------------------------------------

    private Task OnFaultAsync(VcpuPageFault fault)
    {
        if (Flushing) return Task.CompletedTask; // no vCPU thread runs any more; the flush cancels the wait
        MoveWindow(fault.Page);
        if (fault.Outcome == NotPresentOutcome.AlreadyCompleted || !IsWaitingOn(fault.Token))
        {
            Refill(); // completed already; the fault still tells where the guest is
            return Task.CompletedTask;
        }
        if (Region.IsPresent(fault.Page))
        {
            _vcpu.PageReady(fault.Token);
            Refill();
            return Task.CompletedTask;
        }
        if (_works.HasPage(fault.Page))
        {
            Counters.Joined();
            Refill();
            return Task.CompletedTask;
        }
        if (!fault.Retry && _queued < Limit && TryStartWork(fault.Page))
        {
            Counters.Async();
            Refill();
            return Task.CompletedTask;
        }
        Counters.Sync();
        return ResolveSynchronouslyAsync(fault.Page);
    }

    private bool IsWaitingOn(long token) => _vcpu.Wait.State == PfaultWait.Waiting && _vcpu.Wait.Token == token;

    // The mailbox waits meanwhile, as a vCPU that faults a page in itself handles nothing else.
    private async Task ResolveSynchronouslyAsync(ulong page)
    {
        var outcome = await PageFetch.RunAsync(_router, page);
        if (outcome.Result == FetchResult.Failed)
        {
            Counters.Failed();
            OnUnreadable(page, outcome.Error);
        }
    }

    // Every read of the page the vCPU waits on failed, the worker's and the synchronous retry's. userfaultfd
    // cannot fail one fault, so the thread stays blocked: the VM is told to fail (its guest cannot go on), and
    // once its teardown asks for it the thread is released to stop.
    private void OnUnreadable(ulong page, Exception? error)
    {
        if (Flushing || _vcpu.Slot is not { } slot || slot.Page != page || !IsWaitingOn(slot.Token))
        {
            _log.Warning("VM {0} vcpu {1}: page {2} of lazy memory could not be read: {3}", _vmName, _vcpu.Id, page, error?.Message);
            return;
        }
        var reason = _unreadable.Hold(page, error);
        _log.Error("VM {0} vcpu {1}: {2}; the VM fails", _vmName, _vcpu.Id, reason);
        if (_unreadable.ReleaseAsked) _unreadable.Release();
        else Context.Parent.Tell(new PageUnreadable(_vcpu.Id, page, reason));
    }

    private bool TryStartWork(ulong page)
    {
        long id = ++_nextWorkId;
        IActorRef actor;
        try
        {
            actor = Context.ActorOf(AsyncPfWorker.Props(_router, _vcpu, page, id), $"pf-{id}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // "when setup fails": the caller handles the fault synchronously.
            _log.Warning("VM {0} vcpu {1}: no worker for page {2}: {3}", _vmName, _vcpu.Id, page, e.Message);
            return false;
        }
        Context.Watch(actor);
        _works.Add(new AsyncPfWork(id, page, actor));
        _queued++;
        Counters.Outstanding(_queued);
        return true;
    }

    // ---- pages waited for without a blocked thread ---------------------------------------------------

    // The guest was told "page not present" (its token waits in the vCPU's GuestTokens; the install answers it): fetch
    // the page and read ahead of it, as for a fault, since the guest's task walks on once its page is in.
    private void OnGuestNotPresent(ulong page)
    {
        if (Flushing) return; // the flush drops the tokens
        MoveWindow(page);
        switch (Want(page))
        {
            case WantOutcome.Joined: Counters.GuestJoined(); break;
            case WantOutcome.Failed: _vcpu.GuestPageDone(page); break; // answered anyway: the guest retries
        }
        Refill();
    }

    private enum WantOutcome { Present, Joined, Started, Deferred, Failed }

    // A worker now, or the first free slot. With nothing outstanding the page gets a worker even at a limit of 0
    // (AsyncPfOptions.SynchronousOnly): nothing would ever free a slot for it.
    private WantOutcome Want(ulong page)
    {
        if (Region.IsPresent(page)) return WantOutcome.Present;
        if (_works.HasPage(page)) return WantOutcome.Joined;
        if (_deferred.Contains(page)) return WantOutcome.Deferred;
        if (_queued >= Limit && _queued > 0)
        {
            _deferred.Add(page);
            return WantOutcome.Deferred;
        }
        if (TryStartWork(page)) return WantOutcome.Started;
        if (_queued > 0)
        {
            _deferred.Add(page); // retried when a work ends
            return WantOutcome.Deferred;
        }
        Counters.Failed();
        _hostWaiters.ReleaseWaitingOn(page, PageWaitRelease.Failed);
        return WantOutcome.Failed;
    }

    // Slots were freed: the deferred pages first (someone waits for them), in the order they were asked for.
    private void StartDeferred()
    {
        while (_deferred.Count > 0 && _queued < Limit)
        {
            ulong page = _deferred.Peek();
            if (!Region.IsPresent(page) && !_works.HasPage(page) && !TryStartWork(page)) return;
            _deferred.Remove();
        }
        // With a limit of 0 nothing else frees a slot: one at a time.
        if (_deferred.Count > 0 && _queued == 0)
        {
            ulong page = _deferred.Remove();
            if (Want(page) == WantOutcome.Failed) _vcpu.GuestPageDone(page);
        }
    }

    // ---- readahead ------------------------------------------------------------------------------------

    // The window follows the last fault: pages (fault, fault + ReadaheadPages] of the region (the memslot).
    private void MoveWindow(ulong page) => _window.Move(page, _router.Options.ReadaheadPages, Region.PageCount);

    private void Refill()
    {
        if (Flushing || !_window.IsPlaced) return;
        // The router has cancelled every fetch (a flush or the lazy memory's teardown is on its way): the VM is going
        // away, and a new readahead work would only be cancelled by the flush (it freed its slot by coming back).
        if (_router.Cancellation.IsCancellationRequested) return;
        var region = Region;
        while (_queued < Limit && _window.TryNext(out var page))
        {
            if (region.IsPresent(page) || _works.HasPage(page)) continue;
            if (!TryStartWork(page)) return;
            Counters.Readahead();
        }
    }

    // ---- completions (the done list) ------------------------------------------------------------------

    private void OnFetched(PageFetched fetched)
    {
        if (!_works.TryGet(fetched.WorkId, out var work)) return;
        Complete(work, fetched.Outcome);
    }

    private void OnWorkerTerminated(Terminated terminated)
    {
        // Normal workers report before they stop; one still listed died without a result.
        if (_works.TryGet(terminated.ActorRef, out var work))
            Complete(work, new FetchOutcome(FetchResult.Failed, new InvalidOperationException($"worker for page {work.Page} stopped without a result")));
    }

    // The worker's "page ready": off the outstanding list, onto the done list (async_pf_execute's tail).
    private void Complete(AsyncPfWork work, FetchOutcome outcome)
    {
        _works.Remove(work);
        work.Outcome = outcome;
        if (Flushing)
        {
            // Cancelled at the flush: the result is discarded.
            _queued--;
            Counters.Outstanding(_queued);
            if (_works.Count == 0) FinishFlush();
            return;
        }
        // Cancelled by the flush that is on its way to this queue: a cancelled work all the same.
        if (outcome.Result is FetchResult.Cancelled or FetchResult.RegionClosed) Counters.Cancelled(1);
        _done.Enqueue(work);
        // kvm_arch_async_page_present_queued: ask the vCPU side to consume the list once.
        if (_done.Count == 1) Self.Tell(DrainDone.Instance);
    }

    // kvm_check_async_pf_completion: consume the done list in order of completion.
    private void Drain()
    {
        if (Flushing) return;
        while (_done.TryDequeue(out var item))
        {
            _queued--;
            if (item is null)
            {
                ReleaseEveryWaiter();
                continue;
            }
            var outcome = item.Outcome!;
            if (outcome.IsPresent)
            {
                // "Page present": normally the worker completed the vCPU's fault already and this is ignored.
                _vcpu.PageReadyIfOn(item.Page);
            }
            else if (outcome.Result == FetchResult.Failed)
            {
                Counters.Failed();
                OnPageFailed(item.Page, outcome.Error);
            }
        }
        _hostWaiters.ReleaseSatisfied(Region);
        StartDeferred();
        Counters.Outstanding(_queued);
        Refill();
    }

    private void OnPageFailed(ulong page, Exception? error)
    {
        _log.Warning("VM {0} vcpu {1}: fetching page {2} of lazy memory failed: {3}", _vmName, _vcpu.Id, page, error?.Message);
        _hostWaiters.ReleaseWaitingOn(page, PageWaitRelease.Failed);
        // The guest's tokens on it are answered anyway: it retries the access and, if the page is still missing, faults again.
        _vcpu.GuestPageDone(page);
        // The vCPU thread stays blocked until the page is installed: try once more, synchronously.
        if (_vcpu.Slot is { } slot && slot.Page == page && IsWaitingOn(slot.Token))
            Self.Tell(new VcpuPageFault(page, slot.Token, NotPresentOutcome.Block, Retry: true));
    }

    // ---- wakeup all (kvm_async_pf_wakeup_all) ---------------------------------------------------------

    private void OnWakeupAll()
    {
        if (Flushing)
        {
            Sender.Tell(new AsyncPfWakeupAllPosted(_vmName, _vcpu.Id, Coalesced: true));
            return;
        }
        // As in async_pf.c: completions already on the done list notify the vCPU side first.
        if (_done.Count > 0)
        {
            Counters.BroadcastCoalesced();
            Sender.Tell(new AsyncPfWakeupAllPosted(_vmName, _vcpu.Id, Coalesced: true));
            return;
        }
        _done.Enqueue(null);
        _queued++;
        Counters.Outstanding(_queued);
        Counters.Broadcast();
        Self.Tell(DrainDone.Instance);
        Sender.Tell(new AsyncPfWakeupAllPosted(_vmName, _vcpu.Id, Coalesced: false));
    }

    // The broadcast releases every waiter once: the host waiters, and the vCPU's fault, whose thread is woken to
    // retry its access (UFFDIO_WAKE; if the page is still missing it faults again, with a new token).
    private void ReleaseEveryWaiter()
    {
        _hostWaiters.ReleaseAll(PageWaitRelease.WokenByBroadcast);
        _vcpu.AnswerEveryGuestToken();
        if (_vcpu.Slot is { } slot && _vcpu.PageReady(slot.Token) == PageReadyOutcome.WokeWaiter) Region.Wake(slot.Page);
    }

    // ---- host waiters ---------------------------------------------------------------------------------

    private void OnAwaitPages(AwaitGuestPages request)
    {
        var requester = Sender;
        if (Flushing)
        {
            requester.Tell(_hostWaiters.Released(request, PageWaitRelease.Cancelled));
            return;
        }
        var region = Region;
        ulong first = (request.GuestPhysicalAddress - _router.GuestPhysicalAddress) >> Hardware.Native.PageSize.Shift;
        ulong end = (request.GuestPhysicalAddress + request.Length - _router.GuestPhysicalAddress + Hardware.Native.PageSize.Bytes - 1) >> Hardware.Native.PageSize.Shift;
        var waiter = _hostWaiters.Add(request, requester, region, first, end);
        // Beyond the limit the pages wait for free slots (Want): never fetched here, where a slow page would hold the queue.
        foreach (var page in waiter.Pages.ToList())
        {
            if (!_hostWaiters.IsWaiting(waiter)) break;
            Want(page);
        }
        Counters.Outstanding(_queued);
        _hostWaiters.ReleaseSatisfied(region);
    }

    // ---- flush (kvm_clear_async_pf_completion_queue) --------------------------------------------------

    // The router has already detached this queue and cancelled every fetch: workers in a store read end at
    // once, one inside an install finishes it. Wait for each to report; their results are discarded.
    private void OnFlush()
    {
        if (Flushing) return;
        _flushRequester = Sender;
        // Completions still on the done list, but not those that were cancelled already (counted on arrival).
        int undrained = _done.Count(w => w is not null && w.Outcome!.Result is not (FetchResult.Cancelled or FetchResult.RegionClosed));
        _cancelledAtFlush = _works.Count + undrained;
        Counters.Cancelled(_cancelledAtFlush);
        // The done list is drained and freed without "page present".
        _queued -= _done.Count;
        _done.Clear();
        _deferred.Clear();
        _vcpu.GuestTokens.TakeAll(); // dropped: the vCPU is going away and its protocol is flushed with it
        Counters.Outstanding(_queued);
        if (_works.Count == 0) FinishFlush();
    }

    private void FinishFlush()
    {
        _hostWaiters.ReleaseAll(PageWaitRelease.Cancelled);
        _vcpu.CancelWait();
        _flushRequester!.Tell(new QueueFlushed(_vcpu.Id, _cancelledAtFlush));
    }
}
