using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Lazy;
using Akka.Actor;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The page-fault sink of one VM's lazy memory and the state its async-PF actors share. On the region's fault
/// reader thread it attributes each fault to a vCPU by the faulting thread's kernel id, records "not present"
/// (the s390 pfault protocol, <see cref="PfaultWait"/>) and hands the fault to that vCPU's queue actor, which
/// starts a worker or resolves it synchronously. Faults no vCPU took, and faults while the queues are detached
/// (before the actors exist, during and after a flush), are resolved synchronously right here.
/// </summary>
/// <remarks>
/// The race of arch/s390/mm/pfault.c: a worker that installs a page completes the fault on it at once, from its
/// own thread (<see cref="OnPageInstalled"/>), so "page ready" can come before the reader recorded "not present";
/// the three-valued wait remembers it (-1) and the later "not present" does not wait. The reader publishes the
/// fault (page, token) before checking whether the page is present and recording "not present"; the installer
/// marks the page present before reading the published fault. Both are full fences, so at least one of them sees
/// the other: no completion is lost, and <see cref="PfaultWait"/> makes sure none counts twice.
/// </remarks>
public sealed class AsyncPfRouter : IStoreBackedFaultSink, IDisposable
{
    private readonly AsyncPfVcpu[] _vcpus;
    private readonly SynchronousPageResolver _fallback;
    private readonly CancellationTokenSource _flush = new();
    private readonly object _fetchGate = new();
    private CancellationTokenSource? _cancel;
    private LazyGuestMemory? _region;
    private long _running, _unattributed, _filled;
    // Faults resolved here whose page could not be read: their threads stay blocked until released (see HoldUnreadable).
    private readonly object _unreadableGate = new();
    private readonly List<ulong> _unreadableHeld = [];
    private readonly List<PageUnreadable> _unreadableUnreported = [];
    private Action? _unreadableNoticed;
    private bool _releaseUnreadable;

    /// <summary>A router for a VM of <paramref name="vcpuCount"/> vCPUs whose lazy memory, at <paramref name="guestPhysicalAddress"/>, comes from <paramref name="store"/>.</summary>
    public AsyncPfRouter(IBackingStore store, int vcpuCount, ulong guestPhysicalAddress, AsyncPfOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vcpuCount);
        Options = options ?? AsyncPfOptions.Default;
        Options.Validate();
        Store = store;
        GuestPhysicalAddress = guestPhysicalAddress;
        _vcpus = Enumerable.Range(0, vcpuCount).Select(i => new AsyncPfVcpu(i)).ToArray();
        _fallback = new SynchronousPageResolver(store, Options.ReadAttempts);
        Metrics.ActorsMeter.Register(this);
    }

    /// <summary>Where pages come from.</summary>
    public IBackingStore Store { get; }

    /// <summary>The limit and readahead window.</summary>
    public AsyncPfOptions Options { get; }

    /// <summary>The guest-physical address of the lazy region's first page.</summary>
    public ulong GuestPhysicalAddress { get; }

    /// <summary>The lazy region (after <see cref="Attach"/>).</summary>
    public LazyGuestMemory Region => Volatile.Read(ref _region) ?? throw new InvalidOperationException("the router is not attached to its lazy memory yet");

    /// <summary>Page fetches (workers, synchronous resolutions, fills) running now.</summary>
    public long RunningFetches => Interlocked.Read(ref _running);

    /// <summary>Faults from threads that are no vCPU's.</summary>
    public long UnattributedFaults => Interlocked.Read(ref _unattributed);

    /// <summary>
    /// Test hook: runs on the reader thread after a fault is published and before its "not present" is recorded,
    /// to deliver a completion deliberately first (vCPU index, page).
    /// </summary>
    internal Action<int, ulong>? BeforeNotPresent { get; set; }

    /// <summary>The vCPUs' shared state.</summary>
    internal IReadOnlyList<AsyncPfVcpu> Vcpus => _vcpus;

    /// <summary>Cancelled when the VM's async-PF work is flushed or its lazy memory is torn down.</summary>
    internal CancellationToken Cancellation => _cancel?.Token ?? _flush.Token;

    /// <summary>Binds the router to <paramref name="region"/>, the lazy memory whose faults it receives. Once.</summary>
    public void Attach(LazyGuestMemory region)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (Interlocked.CompareExchange(ref _region, region, null) is not null) throw new InvalidOperationException("the router is already attached");
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(region.Closing, _flush.Token);
    }

    /// <summary>Records that vCPU <paramref name="vcpuId"/> runs on kernel thread <paramref name="threadId"/> (called by its run-loop thread as it starts).</summary>
    public void BindVcpuThread(int vcpuId, int threadId)
    {
        if ((uint)vcpuId >= (uint)_vcpus.Length) throw new ArgumentOutOfRangeException(nameof(vcpuId), vcpuId, $"the VM has {_vcpus.Length} vCPUs");
        _vcpus[vcpuId].ThreadId = threadId;
    }

    /// <inheritdoc />
    public void OnPageFault(LazyGuestMemory region, PageFault fault)
    {
        var vcpu = FindByThread(fault.ThreadId);
        if (vcpu is null)
        {
            Interlocked.Increment(ref _unattributed);
            ResolveHere(region, fault.PageIndex, null);
            return;
        }
        vcpu.Counters.Fault();
        IActorRef? queue;
        long token;
        NotPresentOutcome outcome;
        lock (vcpu.Gate)
        {
            // A vCPU thread has one fault at a time: a new fault from it means the previous one is over (its
            // page was installed, or a broadcast woke it to retry), whether or not that completion was seen yet.
            if (vcpu.Slot is { } previous) vcpu.PageReady(previous.Token);
            token = vcpu.NextToken();
            vcpu.Publish(new FaultSlot(fault.PageIndex, token));
            // An install between the fault and now is a completion that came first.
            if (region.IsPresent(fault.PageIndex)) vcpu.PageReady(token);
            BeforeNotPresent?.Invoke(vcpu.Id, fault.PageIndex);
            outcome = vcpu.Wait.NotPresent(token);
            if (outcome == NotPresentOutcome.AlreadyCompleted) vcpu.Counters.EarlyCompletion();
            queue = vcpu.Queue;
        }
        // Completed early, the fault does not wait (pfault.c's late "not present" returns at once and the access is
        // retried). But the vCPU thread sleeps in the kernel's userfaultfd fault until something wakes it: an install's
        // UFFDIO_COPY does, a broadcast (wakeup-all) that came first did not, since no one waited yet. Wake it, so it
        // retries, and faults again with a new token if the page is still missing; a second wake after an install finds
        // no waiter and costs one call.
        if (outcome == NotPresentOutcome.AlreadyCompleted) _ = region.Wake(fault.PageIndex);
        if (queue is not null)
        {
            MmuLock.AssertNotHeld("send VcpuPageFault to a vCPU's async-PF queue");
            queue.Tell(new VcpuPageFault(fault.PageIndex, token, outcome));
        }
        else if (outcome == NotPresentOutcome.Block)
        {
            // kvm_setup_async_pf failed (no queue to hand it to): the fault is handled synchronously.
            vcpu.Counters.Sync();
            ResolveHere(region, fault.PageIndex, vcpu);
        }
    }

    /// <summary>
    /// Page <paramref name="page"/> is present now (installed by anyone): completes the fault of every vCPU that
    /// is on it, and sends "page ready" for every guest-visible token waiting on it. Runs on the installer's thread
    /// right after the install; the page's present bit is already set.
    /// </summary>
    internal void OnPageInstalled(ulong page)
    {
        foreach (var vcpu in _vcpus)
        {
            vcpu.PageReadyIfOn(page);
            vcpu.GuestPageDone(page);
        }
    }

    /// <summary>Detaches every queue (faults are resolved synchronously from now on) and cancels every fetch in flight.</summary>
    internal void BeginFlush()
    {
        foreach (var vcpu in _vcpus)
        {
            lock (vcpu.Gate) vcpu.Detach();
        }
        _flush.Cancel();
    }

    /// <summary>
    /// The async-PF actors stopped without a flush (they failed, or the VM actor was stopped): the faults they were
    /// handling would never be resolved and their vCPU threads could never stop. Resolves every fault a vCPU still
    /// waits on synchronously, off the actors (counted as synchronous fallbacks).
    /// </summary>
    internal void ResolveStranded()
    {
        if (Volatile.Read(ref _region) is not { IsClosed: false } region) return;
        foreach (var vcpu in _vcpus)
        {
            if (vcpu.Wait.State != PfaultWait.Waiting || vcpu.Slot is not { } slot) continue;
            vcpu.Counters.Sync();
            _ = Task.Run(() => ResolveHere(region, slot.Page, vcpu));
        }
    }

    /// <summary>
    /// The synchronous flush, for a VM actor stopped before its teardown flushed its work: detaches the queues,
    /// cancels every fetch and waits up to <paramref name="timeout"/> for the running ones to end. True if none runs.
    /// </summary>
    public bool Abort(TimeSpan timeout)
    {
        BeginFlush();
        foreach (var vcpu in _vcpus) vcpu.CancelWait();
        return WaitForNoFetches(timeout);
    }

    /// <summary>Waits until no fetch runs; false if <paramref name="timeout"/> passed first.</summary>
    public bool WaitForNoFetches(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_fetchGate)
        {
            while (_running > 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_fetchGate, left)) return _running == 0;
            }
            return true;
        }
    }

    /// <summary>The counters of every vCPU, for <paramref name="vmName"/>.</summary>
    public AsyncPfReport Report(string vmName) => new(
        vmName,
        _vcpus.Select(v => v.Counters.Snapshot(v.Id)).ToList(),
        UnattributedFaults,
        RunningFetches,
        Interlocked.Read(ref _filled),
        Volatile.Read(ref _region)?.InstallsAfterUnmap ?? 0);

    /// <summary>Releases the cancellation sources; call after the lazy memory is gone.</summary>
    public void Dispose()
    {
        _cancel?.Dispose();
        Metrics.ActorsMeter.Unregister(this);
    }

    internal AsyncPfVcpu Vcpu(int vcpuId) => _vcpus[vcpuId];

    /// <summary>
    /// Called (any thread) whenever a fault resolved here turns out unreadable, and at once if some did before this was
    /// set; the async-PF actor sets it and then takes them with <see cref="TakeUnreadable"/>.
    /// </summary>
    internal void OnUnreadableHere(Action noticed)
    {
        bool any;
        lock (_unreadableGate)
        {
            _unreadableNoticed = noticed;
            any = _unreadableUnreported.Count > 0;
        }
        if (any) noticed();
    }

    /// <summary>The unreadable pages of faults resolved here not taken yet (the VM must fail with their reasons).</summary>
    internal IReadOnlyList<PageUnreadable> TakeUnreadable()
    {
        lock (_unreadableGate)
        {
            var taken = _unreadableUnreported.ToList();
            _unreadableUnreported.Clear();
            return taken;
        }
    }

    /// <summary>
    /// The teardown asks: every thread blocked on an unreadable page resolved here is released (a zero page installed,
    /// its contents no longer matter), now and for any such page later.
    /// </summary>
    internal void ReleaseUnreadable()
    {
        List<ulong> pages;
        lock (_unreadableGate)
        {
            _releaseUnreadable = true;
            pages = [.. _unreadableHeld];
            _unreadableHeld.Clear();
        }
        if (Volatile.Read(ref _region) is not { } region) return;
        foreach (var page in pages) ReleaseWithZeroPage(region, page);
    }

    /// <summary>
    /// Installs a zero page on <paramref name="page"/> of <paramref name="region"/>, which wakes a thread blocked on it whose
    /// page could not be read (its contents no longer matter: its VM is stopping), and completes the faults on it.
    /// </summary>
    internal void ReleaseWithZeroPage(LazyGuestMemory region, ulong page)
    {
        if (region.TryInstallZero(page) != PageInstall.RegionClosed) OnPageInstalled(page);
    }

    // userfaultfd cannot fail one fault, so the faulting thread stays blocked; nothing else would ever tell the VM,
    // which would stay Running with a vCPU stuck for good (seen under load: a fault taken before the queues were
    // attached). The VM fails with the page's reason, and its teardown releases the thread.
    private void HoldUnreadable(LazyGuestMemory region, ulong page, AsyncPfVcpu? vcpu, BackingStoreException error)
    {
        Action? notify;
        bool releaseNow;
        lock (_unreadableGate)
        {
            releaseNow = _releaseUnreadable;
            if (!releaseNow)
            {
                _unreadableHeld.Add(page);
                _unreadableUnreported.Add(new PageUnreadable(vcpu?.Id ?? -1, page, UnreadablePage.Describe(this, page, error)));
            }
            notify = _unreadableNoticed;
        }
        if (releaseNow) ReleaseWithZeroPage(region, page);
        else notify?.Invoke();
    }

    internal void FetchStarted()
    {
        lock (_fetchGate) _running++;
    }

    internal void FetchEnded()
    {
        lock (_fetchGate)
        {
            if (--_running == 0) Monitor.PulseAll(_fetchGate);
        }
    }

    internal void CountFilled(long pages) => Interlocked.Add(ref _filled, pages);

    private AsyncPfVcpu? FindByThread(int threadId)
    {
        if (threadId == 0) return null;
        foreach (var vcpu in _vcpus)
            if (vcpu.ThreadId == threadId) return vcpu;
        return null;
    }

    // On the reader thread: the store's latency holds up every other fault of the VM meanwhile.
    private void ResolveHere(LazyGuestMemory region, ulong page, AsyncPfVcpu? vcpu)
    {
        FetchStarted();
        try
        {
            var install = _fallback.Resolve(region, page);
            if (install != PageInstall.RegionClosed) OnPageInstalled(page);
        }
        catch (BackingStoreException e)
        {
            vcpu?.Counters.Failed();
            HoldUnreadable(region, page, vcpu, e);
        }
        finally
        {
            FetchEnded();
        }
    }
}
