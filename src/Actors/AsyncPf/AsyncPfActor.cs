using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// A VM's async page faults: the VmActor's child "async-pf", parent of one <see cref="AsyncPfQueue"/> per vCPU
/// ("vcpu-&lt;i&gt;", whose children are the <see cref="AsyncPfWorker"/>s) and of a <see cref="LazyMemoryFiller"/>
/// while a fill runs. Hands the VM's lazy-memory requests to the right queue and runs the teardown's flush.
/// </summary>
/// <remarks>
/// It lives under the VmActor rather than under each VcpuActor because the teardown stops the vCPU actors in
/// StopVcpus, while a vCPU thread blocked in a fault needs its worker to finish before it can stop at all; the
/// workers are flushed in the next step, FlushOutstandingWork, before anything is unmapped (kvm_destroy_vm
/// flushes async-PF work after the vCPUs are out of the guest). A failure here escalates: the VM fails, never the node.
/// </remarks>
internal sealed class AsyncPfActor : ReceiveActor
{
    private readonly AsyncPfRouter _router;
    private readonly string _vmName;
    private IActorRef[] _queues = [];
    private IActorRef? _filler;
    private int _fills;
    private IActorRef? _flushRequester;
    private int _queuesToFlush, _cancelled;
    private bool _flushed, _failureReported;

    /// <summary>Props for the async-PF subtree of VM <paramref name="vmName"/>.</summary>
    public static Props Props(AsyncPfRouter router, string vmName) => Akka.Actor.Props.Create(() => new AsyncPfActor(router, vmName));

    public AsyncPfActor(AsyncPfRouter router, string vmName)
    {
        _router = router;
        _vmName = vmName;
        Receive<WakeupAllAsyncPf>(m => ToQueue(m.VcpuId, m));
        Receive<AwaitGuestPages>(OnAwaitPages);
        Receive<GuestPageNotPresent>(m =>
        {
            // Only before the queues are attached or while they flush: the vCPU is going away, nothing to answer.
            if ((uint)m.VcpuId < (uint)_queues.Length && _flushRequester is null) _queues[m.VcpuId].Forward(m);
        });
        Receive<FillLazyMemory>(_ => OnFill());
        Receive<FlushAsyncPf>(_ => OnFlush());
        Receive<PageUnreadable>(OnPageUnreadable);
        Receive<UnreadableHereNoticed>(_ =>
        {
            foreach (var unreadable in _router.TakeUnreadable()) OnPageUnreadable(unreadable);
        });
        Receive<ReleaseUnreadableFaults>(m =>
        {
            foreach (var queue in _queues) queue.Tell(m);
            _router.ReleaseUnreadable();
        });
        Receive<QueueFlushed>(OnQueueFlushed);
        Receive<Terminated>(OnTerminated);
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Escalate));

    /// <inheritdoc />
    protected override void PreStart()
    {
        _queues = _router.Vcpus
            .Select(v => Context.Watch(Context.ActorOf(AsyncPfQueue.Props(_router, v, _vmName), $"vcpu-{v.Id}")))
            .ToArray();
        for (int i = 0; i < _queues.Length; i++) _router.Vcpu(i).Attach(_queues[i]);
        var self = Self;
        _router.OnUnreadableHere(() => self.Tell(UnreadableHereNoticed.Instance));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        // Stopped without a flush (this actor failed, or the VM actor was stopped): no queue takes faults any
        // more, and the faults the queues held are resolved here so that the vCPU threads can still stop.
        if (_flushRequester is not null) return;
        _router.BeginFlush();
        _router.ResolveStranded();
        _router.ReleaseUnreadable();
    }

    private void ToQueue(int vcpuId, object request)
    {
        if ((uint)vcpuId >= (uint)_queues.Length) Sender.Tell(new VmRequestFailed(_vmName, new VmError.UnknownVcpu(vcpuId, _queues.Length)));
        else if (_flushRequester is not null) Sender.Tell(new VmRequestFailed(_vmName, new VmError.NotAccepting(VmState.Stopping)));
        else _queues[vcpuId].Forward(request);
    }

    private void OnAwaitPages(AwaitGuestPages request)
    {
        ulong start = _router.GuestPhysicalAddress, size = _router.Region.Size;
        if (request.Length == 0 || request.GuestPhysicalAddress < start || request.GuestPhysicalAddress - start > size
            || request.Length > size - (request.GuestPhysicalAddress - start))
        {
            Sender.Tell(new VmRequestFailed(_vmName, new VmError.LazyMemoryRefused(
                $"[0x{request.GuestPhysicalAddress:x}, +0x{request.Length:x}) is not inside the lazy region [0x{start:x}, 0x{start + size:x})")));
            return;
        }
        ToQueue(request.VcpuId, request);
    }

    private void OnFill()
    {
        if (_flushRequester is not null)
            Sender.Tell(new VmRequestFailed(_vmName, new VmError.NotAccepting(VmState.Stopping)));
        else if (_filler is not null)
            Sender.Tell(new VmRequestFailed(_vmName, new VmError.LazyMemoryRefused("a fill is already running")));
        else
            _filler = Context.Watch(Context.ActorOf(LazyMemoryFiller.Props(_router, Sender, _vmName), $"fill-{++_fills}"));
    }

    // The VM fails once, with the first page that could not be read.
    private void OnPageUnreadable(PageUnreadable unreadable)
    {
        if (_failureReported || _flushRequester is not null) return;
        _failureReported = true;
        Context.Parent.Tell(new LazyMemoryFailed(_vmName, unreadable.Reason));
    }

    // FlushOutstandingWork: detach the queues and cancel every fetch, then let each queue wait for its workers.
    private void OnFlush()
    {
        if (_flushRequester is not null) return;
        _flushRequester = Sender;
        _router.BeginFlush();
        _queuesToFlush = _queues.Length;
        foreach (var queue in _queues) queue.Tell(FlushQueue.Instance);
        TryFinishFlush();
    }

    private void OnQueueFlushed(QueueFlushed flushed)
    {
        _queuesToFlush--;
        _cancelled += flushed.CancelledWorks;
        TryFinishFlush();
    }

    private void OnTerminated(Terminated terminated)
    {
        if (terminated.ActorRef.Equals(_filler))
        {
            _filler = null;
            TryFinishFlush();
            return;
        }
        // A queue stopped on its own: escalate so that the VM fails (its faults can no longer be served).
        if (_flushRequester is null) throw new InvalidOperationException($"async-PF queue {terminated.ActorRef.Path.Name} stopped unexpectedly");
    }

    private void TryFinishFlush()
    {
        if (_flushed || _flushRequester is null || _queuesToFlush > 0 || _filler is not null) return;
        _flushed = true;
        _flushRequester.Tell(new AsyncPfFlushed(_cancelled, _router.RunningFetches));
    }
}
