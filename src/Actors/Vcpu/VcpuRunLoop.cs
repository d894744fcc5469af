using Actorvisor.Actors.Memslots;
using Actorvisor.Hardware.Accel;
using Akka.Actor;

namespace Actorvisor.Actors.Vcpu;

/// <summary>
/// The run loop of one vCPU on its own dedicated thread (KVM_RUN blocks, so never on a dispatcher):
/// runs the guest, handles port I/O and MMIO inline through the exit handler (the device bus), and between
/// guest entries applies the requests its VcpuActor posted, replying to each request's sender once applied.
/// This is Firecracker's vCPU event loop with the actor's mailbox as the event channel: a request sets a
/// pending count and kicks the thread out of the guest (<see cref="IVirtualCpu.Kick"/>).
/// </summary>
internal sealed class VcpuRunLoop
{
    private readonly IVirtualCpu _cpu;
    private readonly IExitHandler _exits;
    private readonly Action<IVirtualCpu>? _flushTlb;
    private readonly Thread _thread;
    private readonly object _gate = new();
    private readonly Queue<(object Request, IActorRef ReplyTo)> _queue = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly List<IActorRef> _stopRequesters = new();
    private IActorRef _owner = ActorRefs.Nobody;
    private QuiescentState? _quiescent;
    private int _pending;
    private int _inGuest;
    private bool _closed;
    private volatile VcpuRunState _state = VcpuRunState.Paused;
    private VcpuExit? _endedBy;

    /// <summary>A loop for <paramref name="cpu"/>; its thread starts with <see cref="Start"/>.</summary>
    public VcpuRunLoop(IVirtualCpu cpu, IExitHandler exits, string threadName, Action<IVirtualCpu>? flushTlb = null)
    {
        _cpu = cpu;
        _exits = exits;
        _flushTlb = flushTlb;
        _thread = new Thread(ThreadMain) { Name = threadName, IsBackground = true };
    }

    /// <summary>The vCPU index.</summary>
    public int Id => _cpu.Id;

    /// <summary>The thread running this loop.</summary>
    public Thread Thread => _thread;

    /// <summary>The state as last set by the thread.</summary>
    public VcpuRunState State => _state;

    /// <summary>Registers this loop's thread as a memslot reader; call before <see cref="Start"/>.</summary>
    public void JoinGracePeriod(GracePeriod gracePeriod) => _quiescent = gracePeriod.RegisterReader(KickIfInGuest);

    /// <summary>Starts the thread, parked (paused). Events go to <paramref name="owner"/>.</summary>
    public void Start(IActorRef owner)
    {
        _owner = owner;
        _thread.Start();
    }

    /// <summary>
    /// Queues <paramref name="request"/> for the thread and kicks it out of the guest; the thread replies to
    /// <paramref name="replyTo"/> once the request is applied. Thread-safe. After the thread has stopped,
    /// replies at once (<see cref="VcpuStopped"/> to a stop, <see cref="VcpuError.ThreadStopped"/> otherwise).
    /// </summary>
    public void Post(object request, IActorRef replyTo)
    {
        bool queued;
        lock (_gate)
        {
            queued = !_closed;
            if (queued)
            {
                _queue.Enqueue((request, replyTo));
                Interlocked.Increment(ref _pending);
                _wake.Set();
            }
        }
        // Outside the lock: the accelerator's kick takes its own lock, and the loop thread takes _gate.
        if (queued) KickIfInGuest();
        else replyTo.Tell(RefuseAfterStop(request), _owner);
    }

    /// <summary>Waits for the thread to end (after a <see cref="StopVcpu"/>).</summary>
    public bool Join(TimeSpan timeout) => !_thread.IsAlive || _thread.Join(timeout);

    // Pairs with the thread's Interlocked.Exchange of _inGuest and its re-check of _pending (Dekker): either
    // this sees the thread in the guest and kicks, or the thread sees the pending request and does not enter.
    // Kick is sticky until Run returns, so a kick that lands just before Run still interrupts it.
    private void KickIfInGuest()
    {
        if (Volatile.Read(ref _inGuest) != 0) _cpu.Kick();
    }

    private void ThreadMain()
    {
        Exception? fault = null;
        try
        {
            RunLoop();
        }
        catch (Exception e)
        {
            fault = e;
        }
        finally
        {
            Close();
        }
        if (fault is not null) _owner.Tell(new VcpuLoopFaulted(fault));
    }

    private void RunLoop()
    {
        while (true)
        {
            // Top of the loop: outside the guest, holding no memslot snapshot -> a quiescent point.
            _quiescent?.PassQuiescentPoint();
            if (!ApplyRequests()) return;
            if (_state != VcpuRunState.Running)
            {
                Park();
                continue;
            }
            Interlocked.Exchange(ref _inGuest, 1);
            if (Volatile.Read(ref _pending) != 0)
            {
                Volatile.Write(ref _inGuest, 0);
                continue;
            }
            VcpuExit exit;
            try
            {
                exit = _cpu.Run(_exits);
            }
            finally
            {
                Volatile.Write(ref _inGuest, 0);
            }
            OnExit(exit);
        }
    }

    private void OnExit(VcpuExit exit)
    {
        switch (exit)
        {
            case VcpuExit.Interrupted:
                return; // a kick: the requests are applied at the top of the loop
            case VcpuExit.Hlt:
                SetState(VcpuRunState.Halted);
                _owner.Tell(new VcpuHalted(Id));
                return;
            default:
                // Fatal exits, and port I/O / MMIO the device bus stopped on (e.g. debug exit): the VmActor decides.
                _endedBy = exit;
                SetState(VcpuRunState.GuestEnded);
                _owner.Tell(new VcpuGuestEnded(Id, exit));
                return;
        }
    }

    private void Park()
    {
        _quiescent?.EnterIdle();
        lock (_gate)
        {
            if (_queue.Count == 0) _wake.Reset();
        }
        _wake.Wait();
        _quiescent?.ExitIdle();
    }

    // Returns false once a stop request was taken: the loop ends and the stop is answered after Close.
    private bool ApplyRequests()
    {
        while (true)
        {
            (object Request, IActorRef ReplyTo) item;
            lock (_gate)
            {
                if (!_queue.TryDequeue(out item)) return true;
            }
            Interlocked.Decrement(ref _pending);
            if (item.Request is StopVcpu)
            {
                _stopRequesters.Add(item.ReplyTo);
                return false;
            }
            item.ReplyTo.Tell(Apply(item.Request), _owner);
        }
    }

    private object Apply(object request)
    {
        try
        {
            switch (request)
            {
                case PauseVcpu:
                    if (_state is VcpuRunState.Running or VcpuRunState.Halted) SetState(VcpuRunState.Paused);
                    return new VcpuPaused(Id);
                case ResumeVcpu:
                    if (_state == VcpuRunState.GuestEnded) return new VcpuRequestFailed(Id, new VcpuError.GuestEnded(_endedBy!));
                    SetState(VcpuRunState.Running);
                    return new VcpuResumed(Id);
                case GetVcpuRegisters:
                    return new VcpuRegisters(Id, _cpu.GetRegisters(), _cpu.GetSpecialRegisters());
                case SetVcpuRegisters set:
                    _cpu.SetRegisters(set.Registers);
                    if (set.Special is not null) _cpu.SetSpecialRegisters(set.Special);
                    return new VcpuRegistersSet(Id);
                case FlushVcpuTlb:
                    // Outside the guest here; the next entry uses fresh translations.
                    _flushTlb?.Invoke(_cpu);
                    return new VcpuTlbFlushed(Id);
                default:
                    return new VcpuRequestFailed(Id, new VcpuError.AcceleratorFailed($"unknown vCPU request {request.GetType().Name}"));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A refused register write is the request's failure, not the thread's.
            return new VcpuRequestFailed(Id, new VcpuError.AcceleratorFailed(e.Message));
        }
    }

    // The thread is leaving: no request is accepted any more; queued ones are answered.
    private void Close()
    {
        List<(object Request, IActorRef ReplyTo)> left;
        lock (_gate)
        {
            _closed = true;
            left = [.. _queue];
            _queue.Clear();
            Volatile.Write(ref _pending, 0);
        }
        SetState(VcpuRunState.Stopped);
        _quiescent?.Retire();
        foreach (var (request, replyTo) in left) replyTo.Tell(RefuseAfterStop(request), _owner);
        foreach (var requester in _stopRequesters) requester.Tell(new VcpuStopped(Id), _owner);
    }

    private object RefuseAfterStop(object request) => request is StopVcpu
        ? new VcpuStopped(Id)
        : new VcpuRequestFailed(Id, new VcpuError.ThreadStopped());

    private void SetState(VcpuRunState state) => _state = state;
}

/// <summary>The vCPU thread ended with an exception (internal: from the loop to its VcpuActor).</summary>
internal sealed record VcpuLoopFaulted(Exception Exception);
