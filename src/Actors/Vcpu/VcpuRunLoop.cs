using Actorvisor.Hardware.Mmu;
using System.Diagnostics;
using Actorvisor.Actors.Memslots;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Hardware.Native;
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
    private readonly VcpuExitCounters? _counters;
    private readonly Action<IVirtualCpu>? _flushTlb;
    private readonly Action<int>? _threadStarted;
    private readonly Thread _thread;
    private readonly object _gate = new();
    private readonly Queue<(IVcpuRequest Request, IActorRef ReplyTo)> _queue = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly List<IActorRef> _stopRequesters = new();
    private IActorRef _owner = ActorRefs.Nobody;
    private QuiescentState? _quiescent;
    private int _pending;
    private int _inGuest;
    private bool _closed;
    private VcpuExit? _endedBy;
    private int _kernelThreadId;

    /// <summary>
    /// A loop for <paramref name="cpu"/>; its thread starts with <see cref="Start"/> and first calls
    /// <paramref name="threadStarted"/> with its kernel thread id (faults on lazy memory are attributed by it).
    /// With <paramref name="counters"/>, every exit and the time in the guest are counted there (the loop
    /// disposes them when its thread ends).
    /// </summary>
    public VcpuRunLoop(IVirtualCpu cpu, IExitHandler exits, string threadName, Action<IVirtualCpu>? flushTlb = null, Action<int>? threadStarted = null,
        VcpuExitCounters? counters = null)
    {
        _cpu = cpu;
        _counters = counters;
        _exits = counters?.Wrap(exits) ?? exits;
        _flushTlb = flushTlb;
        _threadStarted = threadStarted;
        _thread = new Thread(ThreadMain) { Name = threadName, IsBackground = true };
    }

    /// <summary>The vCPU index.</summary>
    public int Id => _cpu.Id;

    /// <summary>The thread running this loop.</summary>
    public Thread Thread => _thread;

    /// <summary>The kernel thread id (gettid) of the loop's thread; 0 until it started.</summary>
    public int KernelThreadId => Volatile.Read(ref _kernelThreadId);

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
    public void Post(IVcpuRequest request, IActorRef replyTo)
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
            // Before the first guest entry: the thread starts parked.
            Volatile.Write(ref _kernelThreadId, Sys.CurrentThreadId());
            _threadStarted?.Invoke(_kernelThreadId);
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

    // The vCPU state machine, owned by this thread alone (Firecracker's vstate vcpu): each turn passes a
    // quiescent point (outside the guest, holding no memslot snapshot), applies the queued requests, then
    // acts on the state they left.
    private void RunLoop()
    {
        var state = VcpuRunState.Paused;
        while (true)
        {
            _quiescent?.PassQuiescentPoint();
            state = ApplyRequests(state);
            state = state switch
            {
                VcpuRunState.Running => RunGuest(),
                VcpuRunState.Paused or VcpuRunState.Halted or VcpuRunState.GuestEnded => Park(state),
                _ => VcpuRunState.Stopped,
            };
            if (state == VcpuRunState.Stopped) return;
        }
    }

    // One guest entry; the state after the exit.
    private VcpuRunState RunGuest()
    {
        Interlocked.Exchange(ref _inGuest, 1);
        if (Volatile.Read(ref _pending) != 0)
        {
            Volatile.Write(ref _inGuest, 0);
            return VcpuRunState.Running;
        }
        VcpuExit exit;
        long start = Stopwatch.GetTimestamp();
        try
        {
            exit = _cpu.Run(_exits);
        }
        finally
        {
            Volatile.Write(ref _inGuest, 0);
        }
        _counters?.CountReturn(exit, Stopwatch.GetTimestamp() - start);
        switch (exit)
        {
            case VcpuExit.Interrupted:
                return VcpuRunState.Running; // a kick: the requests are applied at the top of the loop
            case VcpuExit.Hlt:
                MmuLock.AssertNotHeld("send VcpuHalted to the VM");
                _owner.Tell(new VcpuHalted(Id));
                return VcpuRunState.Halted;
            default:
                // Fatal exits, and port I/O / MMIO the device bus stopped on (e.g. debug exit): the VmActor decides.
                _endedBy = exit;
                MmuLock.AssertNotHeld("send VcpuGuestEnded to the VM");
                _owner.Tell(new VcpuGuestEnded(Id, exit));
                return VcpuRunState.GuestEnded;
        }
    }

    // Parked outside the guest until a request arrives; the state is unchanged (the requests change it).
    private VcpuRunState Park(VcpuRunState state)
    {
        _quiescent?.EnterIdle();
        lock (_gate)
        {
            if (_queue.Count == 0) _wake.Reset();
        }
        _wake.Wait();
        _quiescent?.ExitIdle();
        return state;
    }

    // Applies every queued request in order and answers each; a stop ends the loop (it is answered after Close).
    private VcpuRunState ApplyRequests(VcpuRunState state)
    {
        while (true)
        {
            (IVcpuRequest Request, IActorRef ReplyTo) item;
            lock (_gate)
            {
                if (!_queue.TryDequeue(out item)) return state;
            }
            Interlocked.Decrement(ref _pending);
            if (item.Request is StopVcpu)
            {
                _stopRequesters.Add(item.ReplyTo);
                return VcpuRunState.Stopped;
            }
            (var reply, state) = Apply(item.Request, state);
            MmuLock.AssertNotHeld("answer a vCPU request");
            item.ReplyTo.Tell(reply, _owner);
        }
    }

    private (object Reply, VcpuRunState Next) Apply(IVcpuRequest request, VcpuRunState state)
    {
        try
        {
            return request switch
            {
                PauseVcpu => (new VcpuPaused(Id), state is VcpuRunState.Running or VcpuRunState.Halted ? VcpuRunState.Paused : state),
                ResumeVcpu when state == VcpuRunState.GuestEnded => (new VcpuRequestFailed(Id, new VcpuError.GuestEnded(_endedBy!)), state),
                ResumeVcpu => (new VcpuResumed(Id), VcpuRunState.Running),
                GetVcpuRegisters => (new VcpuRegisters(Id, _cpu.GetRegisters(), _cpu.GetSpecialRegisters()), state),
                SetVcpuRegisters set => (SetRegisters(set), state),
                SaveVcpuState => (new VcpuStateSaved(Id, _cpu.SaveState()), state),
                // Outside the guest here; the next entry uses fresh translations.
                FlushVcpuTlb => (FlushTlb(), state),
                // StopVcpu is taken by ApplyRequests; the protocol has no other request.
                _ => throw new UnreachableException($"{request.GetType().Name} reached the vCPU run loop"),
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException and not UnreachableException)
        {
            // A refused register write is the request's failure, not the thread's.
            return (new VcpuRequestFailed(Id, new VcpuError.AcceleratorFailed(e.Message)), state);
        }
    }

    private VcpuRegistersSet SetRegisters(SetVcpuRegisters set)
    {
        _cpu.SetRegisters(set.Registers);
        if (set.Special is not null) _cpu.SetSpecialRegisters(set.Special);
        return new VcpuRegistersSet(Id);
    }

    private VcpuTlbFlushed FlushTlb()
    {
        _flushTlb?.Invoke(_cpu);
        return new VcpuTlbFlushed(Id);
    }

    // The thread is leaving: no request is accepted any more; queued ones are answered.
    private void Close()
    {
        List<(IVcpuRequest Request, IActorRef ReplyTo)> left;
        lock (_gate)
        {
            _closed = true;
            left = [.. _queue];
            _queue.Clear();
            Volatile.Write(ref _pending, 0);
        }
        _quiescent?.Retire();
        _counters?.Dispose();
        foreach (var (request, replyTo) in left) replyTo.Tell(RefuseAfterStop(request), _owner);
        foreach (var requester in _stopRequesters) requester.Tell(new VcpuStopped(Id), _owner);
    }

    private object RefuseAfterStop(IVcpuRequest request) => request is StopVcpu
        ? new VcpuStopped(Id)
        : new VcpuRequestFailed(Id, new VcpuError.ThreadStopped());
}

/// <summary>The vCPU thread ended with an exception (internal: from the loop to its VcpuActor).</summary>
internal sealed record VcpuLoopFaulted(Exception Exception);
