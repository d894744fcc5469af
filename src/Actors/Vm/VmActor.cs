using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vfio;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Vfio;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// One VM (kvm->lock, locking.rst section 1: taken outside vcpu->mutex and slots_lock, so the vCPUs and the
/// memslot writer are its children). Builds the hardware from its spec, then runs the lifecycle
/// Created -> Running &lt;-> Paused -> Stopping -> Stopped | Failed as behaviours. Children: one VcpuActor
/// per vCPU, one MemslotSetActor, one DeviceActor per device, one KvmVfioDeviceActor (attached VFIO files).
/// Supervision: any exception in a child stops that child and fails this VM (never the node); the VM then
/// tears itself down. Teardown (kvm_destroy_vm; DESIGN.md) runs the <see cref="TeardownStep"/>s in order
/// and publishes each; if the actor is stopped before it finished (node shutdown, its own crash),
/// <see cref="PostStop"/> finishes the remaining steps synchronously in the same order.
/// </summary>
public sealed class VmActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>How long a vCPU may take to acknowledge pause/resume/flush before the VM is failed.</summary>
    public static readonly TimeSpan VcpuAckTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long one teardown step may take before the teardown gives up (leaking rather than unmapping memory a thread may still use).</summary>
    public static readonly TimeSpan TeardownStepTimeout = TimeSpan.FromSeconds(15);

    private readonly VmSpec _spec;
    private readonly IActorRef _self;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConsoleRelay _console;
    private readonly MemslotView _view = new(MemslotSet.Empty);
    private readonly GracePeriod _gracePeriod = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly List<IActorRef> _stopRequesters = new();
    private readonly HashSet<int> _halted = new();
    private readonly HashSet<TeardownStep> _stepsDone = new();
    private VmParts? _parts;
    private MemslotTable? _memslotTable;
    private VcpuRunLoop[] _loops = [];
    private IActorRef[] _vcpus = [];
    private IActorRef? _memslots;
    private IActorRef? _asyncPf;
    private (VmDevice Device, IActorRef Actor)[] _devices = [];
    private (VmDevice Device, IActorRef Actor)? _vfio;
    private VmState _state = VmState.Created;
    private VmOutcome? _outcome;
    private VmOutcome? _teardownOutcome;
    private TeardownStep? _currentStep;
    private bool _teardownAbandoned;
    private int _nextTag;
    private int _stepTag = -1;
    private PendingTransition? _transition;
    private readonly Dictionary<int, IActorRef> _flushRequesters = new();

    /// <summary>The stash used while a transition waits for its vCPUs.</summary>
    public IStash Stash { get; set; } = null!;

    /// <summary>Timers (teardown step deadlines).</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for a VM built from <paramref name="spec"/>.</summary>
    public static Props Props(VmSpec spec) => Akka.Actor.Props.Create(() => new VmActor(spec));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public VmActor(VmSpec spec)
    {
        _spec = spec;
        _self = Self;
        _console = new ConsoleRelay(() => _self.Tell(ConsoleWaiting.Instance));
        Created();
    }

    private string Name => _spec.Name;

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() =>
        // A child's exception (a vCPU thread fault, a device) fails this VM only: stop the child, tell self.
        new OneForOneStrategy(Decider.From(e =>
        {
            _self.Tell(new ChildCrashed(e is VcpuThreadFaultedException ? e.Message : $"{e.GetType().Name}: {e.Message}"));
            return Directive.Stop;
        }));

    // Remembers an exception of this actor's own, so that the teardown PostStop then runs reports it.
    /// <inheritdoc />
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            _teardownOutcome = new VmOutcome.Failed($"the VM actor failed: {e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        try
        {
            _parts = _spec.Build(new VmBuildContext(Name, _console, _view));
        }
        catch (Exception e)
        {
            FailCreation(e.Message, null);
            return;
        }
        var vm = _parts.Vm;
        var createVfio = _spec.KvmVfioDevice ?? (v => KvmVfioDevices.Create(v));
        var vfio = new VfioAttachments(() => createVfio(vm));
        foreach (var path in _spec.VfioFiles)
        {
            if (vfio.Attach(path) is not { } error) continue;
            // Nothing has started yet: release what was built, in the teardown's order, and report the file.
            vfio.Release();
            ReleaseUnstartedParts(_parts);
            _parts = null;
            FailCreation(error.Message, new VmError.VfioRefused(error));
            return;
        }
        _memslotTable = new MemslotTable(_parts.Vm, _view, _gracePeriod);
        _view.Publish(_parts.Vm.Memslots);
        var router = _parts.AsyncPf;
        _loops = _parts.RunnableVcpus
            .Select(cpu => new VcpuRunLoop(cpu, _parts.ExitHandler, $"{Name}/vcpu{cpu.Id}", _parts.EffectiveFlushTlb,
                router is null ? null : tid => router.BindVcpuThread(cpu.Id, tid)))
            .ToArray();
        foreach (var loop in _loops) loop.JoinGracePeriod(_gracePeriod);
        _memslots = Context.Watch(Context.ActorOf(MemslotSetActor.Props(_memslotTable), "memslots"));
        // Before the vCPU threads can run: their faults on lazy memory go to these actors.
        if (router is not null) _asyncPf = Context.Watch(Context.ActorOf(AsyncPfActor.Props(router, Name), "async-pf"));
        _vcpus = _loops.Select(l => Context.Watch(Context.ActorOf(VcpuActor.Props(l), $"vcpu-{l.Id}"))).ToArray();
        // The threads start parked; their events and replies carry their VcpuActor as sender.
        for (int i = 0; i < _loops.Length; i++) _loops[i].Start(_vcpus[i]);
        _devices = _parts.Devices
            .Select((d, i) => (d, Context.Watch(Context.ActorOf(DeviceActor.Props(d), $"device-{i}-{Uri.EscapeDataString(d.Name)}"))))
            .ToArray();
        _vfio = (new VmDevice(KvmVfioDeviceActor.DeviceName, vfio), Context.Watch(Context.ActorOf(KvmVfioDeviceActor.Props(Name, vfio), KvmVfioDeviceActor.DeviceName)));
        Context.Parent.Tell(new VmReady(Name, Self));
    }

    private void FailCreation(string reason, VmError? error)
    {
        _outcome = new VmOutcome.Failed($"building the VM failed: {reason}");
        _state = VmState.Failed;
        Become(Ended);
        Context.Parent.Tell(new VmCreateFailed(Name, reason, error));
    }

    private static void ReleaseUnstartedParts(VmParts parts)
    {
        foreach (var device in parts.Devices) device.Release();
        foreach (var cpu in parts.RunnableVcpus) cpu.Dispose();
        parts.Vm.Dispose();
        foreach (var r in parts.OtherResources) r.Dispose();
        foreach (var memory in parts.GuestMemory) memory.Dispose();
    }

    // ---- behaviours ------------------------------------------------------------------------------

    private void Created()
    {
        Receive<StartVm>(_ => BeginTransition(VmState.Running, ResumeVcpu.Instance, m => m is VcpuResumed));
        Receive<PauseVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Created, "pause")));
        Receive<ResumeVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Created, "resume")));
        Live();
    }

    private void Running()
    {
        Receive<PauseVm>(_ => BeginTransition(VmState.Paused, PauseVcpu.Instance, m => m is VcpuPaused));
        Receive<StartVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Running, "start")));
        Receive<ResumeVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Running, "resume")));
        Live();
    }

    private void Paused()
    {
        Receive<ResumeVm>(_ =>
        {
            _halted.Clear();
            BeginTransition(VmState.Running, ResumeVcpu.Instance, m => m is VcpuResumed);
        });
        Receive<StartVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Paused, "start")));
        Receive<PauseVm>(_ => Refuse(new VmError.InvalidTransition(VmState.Paused, "pause")));
        Live();
    }

    // Handlers shared by Created, Running and Paused.
    private void Live()
    {
        Receive<StopVm>(_ =>
        {
            _stopRequesters.Add(Sender);
            BeginTeardown(new VmOutcome.StoppedOnRequest());
        });
        Receive<GetRegisters>(m => ToVcpu(m.VcpuId, GetVcpuRegisters.Instance));
        Receive<SetRegisters>(m => ToVcpu(m.VcpuId, new SetVcpuRegisters(m.Registers, m.Special)));
        Receive<FlushTlb>(_ =>
        {
            int tag = Collect(ReplyCollector.Tell(_vcpus, FlushVcpuTlb.Instance), m => m is VcpuTlbFlushed, VcpuAckTimeout);
            _flushRequesters[tag] = Sender;
        });
        Receive<Collected>(c => _flushRequesters.ContainsKey(c.Tag), c =>
        {
            _flushRequesters.Remove(c.Tag, out var requester);
            requester!.Tell(c.AllAcked ? new TlbFlushed(Name, c.Acks.Count) : new VmRequestFailed(Name, VcpuProblem(c)));
        });
        Receive<SetMemslot>(m => _memslots.Forward(m));
        Receive<DeleteMemslot>(m => _memslots.Forward(m));
        Receive<GetMemslots>(m => _memslots.Forward(m));
        Receive<ReadGuestMemory>(m =>
        {
            if (m.Length is < 1 or > ReadGuestMemory.MaxLength) Refuse(new VmError.MemoryReadLengthInvalid(m.Length, ReadGuestMemory.MaxLength));
            else _memslots.Forward(new ReadGuestMemoryFor(Name, m));
        });
        Receive<AttachVfioFile>(m => _vfio!.Value.Actor.Forward(m));
        Receive<DetachVfioFile>(m => _vfio!.Value.Actor.Forward(m));
        Receive<ListVfioFiles>(m => _vfio!.Value.Actor.Forward(m));
        Receive<IAsyncPfRequest>(m =>
        {
            if (_asyncPf is null) Refuse(new VmError.LazyMemoryRefused("the VM has no lazy memory"));
            else _asyncPf.Forward(m);
        });
        Receive<VcpuHalted>(m =>
        {
            _halted.Add(m.VcpuId);
            if (_halted.Count == _vcpus.Length) BeginTeardown(new VmOutcome.Halted());
        });
        Receive<VcpuGuestEnded>(m => BeginTeardown(Interpret(m)));
        Receive<ChildCrashed>(m => BeginTeardown(new VmOutcome.Failed(m.Reason)));
        Receive<LazyMemoryFailed>(m => BeginTeardown(new VmOutcome.Failed(m.Reason)));
        Receive<Terminated>(t => BeginTeardown(new VmOutcome.Failed($"{t.ActorRef.Path.Name} stopped unexpectedly")));
        Always();
    }

    // While the vCPUs acknowledge a transition, other requests wait in the stash.
    private void Transitioning()
    {
        Receive<Collected>(c => c.Tag == _transition?.Tag, c =>
        {
            var t = _transition!;
            _transition = null;
            if (c.AllAcked)
            {
                SetState(t.Target);
                t.Requester.Tell(new VmTransitioned(Name, t.Target));
                Become(t.Target == VmState.Running ? Running : Paused);
                Stash.UnstashAll();
            }
            else
            {
                var error = VcpuProblem(c);
                t.Requester.Tell(new VmRequestFailed(Name, error));
                BeginTeardown(new VmOutcome.Failed($"vCPUs did not complete the change to {t.Target}: {error.Message}"));
            }
        });
        Receive<ChildCrashed>(m =>
        {
            // Report the crash itself, not the vCPU that can no longer acknowledge.
            _transition!.Requester.Tell(new VmRequestFailed(Name, new VmError.VcpusUnresponsive(m.Reason)));
            _transition = null;
            BeginTeardown(new VmOutcome.Failed(m.Reason));
        });
        Receive<LazyMemoryFailed>(m =>
        {
            _transition!.Requester.Tell(new VmRequestFailed(Name, new VmError.VcpusUnresponsive(m.Reason)));
            _transition = null;
            BeginTeardown(new VmOutcome.Failed(m.Reason));
        });
        Receive<GetVmDescription>(_ => Sender.Tell(Describe()));
        Receive<GetAsyncPfCounters>(_ =>
        {
            if (_parts?.AsyncPf is { } router) Sender.Tell(router.Report(Name));
            else Refuse(new VmError.LazyMemoryRefused("the VM has no lazy memory"));
        });
        Receive<ConsoleWaiting>(_ => PublishConsole());
        ReceiveAny(_ => Stash.Stash());
    }

    private void Stopping()
    {
        Receive<StopVm>(_ => _stopRequesters.Add(Sender));
        Receive<IVmRequest>(_ => Refuse(new VmError.NotAccepting(VmState.Stopping)));
        Receive<SetMemslot>(_ => Sender.Tell(new MemslotRequestFailed("the VM is stopping")));
        Receive<DeleteMemslot>(_ => Sender.Tell(new MemslotRequestFailed("the VM is stopping")));
        Receive<GetMemslots>(_ => Sender.Tell(new MemslotsSnapshot(_view.Current)));
        Receive<Collected>(c => c.Tag == _stepTag, OnStepCollected);
        Receive<Collected>(c => _flushRequesters.ContainsKey(c.Tag), c =>
        {
            _flushRequesters.Remove(c.Tag, out var requester);
            requester!.Tell(new VmRequestFailed(Name, new VmError.NotAccepting(VmState.Stopping)));
        });
        Receive<StepTimedOut>(m => m.Step == _currentStep, m => AbandonTeardown($"teardown step {m.Step} did not finish within {TeardownStepTimeout.TotalSeconds:0} s"));
        Receive<ChildCrashed>(m => _log.Warning("VM {0}: a child crashed during teardown: {1}", Name, m.Reason));
        Receive<LazyMemoryFailed>(m => _log.Warning("VM {0}: lazy memory failed during teardown: {1}", Name, m.Reason));
        Receive<VcpuHalted>(_ => { });
        Receive<VcpuGuestEnded>(_ => { });
        Receive<Terminated>(_ => { });
        Receive<Collected>(_ => { }); // a transition or flush overtaken by the teardown
        Always();
    }

    private void Ended()
    {
        Receive<StopVm>(_ => Sender.Tell(new VmStopped(Name, _outcome!)));
        // An abandoned teardown left the memory mapped (a thread may still use it), but no longer lends it out.
        Receive<ReadGuestMemory>(_ => Refuse(_teardownAbandoned ? new VmError.NotAccepting(_state) : new VmError.GuestMemoryUnmapped(_state)));
        Receive<IVmRequest>(_ => Refuse(new VmError.NotAccepting(_state)));
        Receive<SetMemslot>(_ => Sender.Tell(new MemslotRequestFailed($"the VM is {_state}")));
        Receive<DeleteMemslot>(_ => Sender.Tell(new MemslotRequestFailed($"the VM is {_state}")));
        Receive<GetMemslots>(_ => Sender.Tell(new MemslotsSnapshot(_view.Current)));
        Receive<SubscribeVm>(m =>
        {
            Sender.Tell(new VmSubscribed(Name, _state));
            m.Subscriber.Tell(new VmEnded(Name, _outcome!));
        });
        Receive<Collected>(_ => { });
        Receive<ChildCrashed>(_ => { });
        Receive<LazyMemoryFailed>(_ => { });
        Receive<Terminated>(_ => { });
        Receive<VcpuHalted>(_ => { });
        Receive<VcpuGuestEnded>(_ => { });
        Always();
    }

    // Answered in every state.
    private void Always()
    {
        Receive<GetVmDescription>(_ => Sender.Tell(Describe()));
        Receive<GetAsyncPfCounters>(_ =>
        {
            if (_parts?.AsyncPf is { } router) Sender.Tell(router.Report(Name));
            else Refuse(new VmError.LazyMemoryRefused("the VM has no lazy memory"));
        });
        Receive<SubscribeVm>(m =>
        {
            _subscribers.Add(m.Subscriber);
            Sender.Tell(new VmSubscribed(Name, _state));
        });
        Receive<UnsubscribeVm>(m =>
        {
            _subscribers.Remove(m.Subscriber);
            Sender.Tell(new VmUnsubscribed(Name));
        });
        Receive<ConsoleWaiting>(_ => PublishConsole());
        Receive<VmEvent>(_ => _vfio is { } v && Sender.Equals(v.Actor), e => Publish(e, toParent: false));
    }

    // ---- lifecycle -------------------------------------------------------------------------------

    private void BeginTransition(VmState target, object vcpuRequest, Func<object, bool> isAck)
    {
        int tag = Collect(ReplyCollector.Tell(_vcpus, vcpuRequest), isAck, VcpuAckTimeout);
        _transition = new PendingTransition(tag, target, Sender);
        Become(Transitioning);
    }

    private VmOutcome Interpret(VcpuGuestEnded ended)
    {
        if (_parts?.InterpretExit?.Invoke(ended.Exit) is { } outcome) return outcome;
        return new VmOutcome.Failed(ended.Exit switch
        {
            VcpuExit.Shutdown s => $"vcpu {ended.VcpuId}: guest shutdown ({s.Reason})",
            VcpuExit.InternalError e => $"vcpu {ended.VcpuId}: internal error ({e.Reason})",
            VcpuExit.FailEntry f => $"vcpu {ended.VcpuId}: entry failed (hardware reason 0x{f.HardwareReason:x}: {f.Reason})",
            VcpuExit.PortIo p => $"vcpu {ended.VcpuId}: unhandled port I/O {p.Direction} port 0x{p.Port:x} size {p.Size}",
            VcpuExit.Mmio m => $"vcpu {ended.VcpuId}: unhandled MMIO {(m.IsWrite ? "write" : "read")} at 0x{m.Gpa:x} size {m.Size}",
            var other => $"vcpu {ended.VcpuId}: unexpected exit {other}",
        });
    }

    private void SetState(VmState next)
    {
        if (next == _state) return;
        var changed = new VmStateChanged(Name, _state, next);
        _state = next;
        Publish(changed, toParent: true);
    }

    // ---- teardown (kvm_destroy_vm) ----------------------------------------------------------------

    private void BeginTeardown(VmOutcome outcome)
    {
        _teardownOutcome = outcome;
        if (outcome is VmOutcome.Failed f) _log.Warning("VM {0} failed: {1}", Name, f.Reason);
        foreach (var (tag, requester) in _flushRequesters) requester.Tell(new VmRequestFailed(Name, new VmError.NotAccepting(VmState.Stopping)));
        _flushRequesters.Clear();
        if (_transition is { } t)
        {
            t.Requester.Tell(new VmRequestFailed(Name, new VmError.NotAccepting(VmState.Stopping)));
            _transition = null;
        }
        SetState(VmState.Stopping);
        Become(Stopping);
        Stash.UnstashAll(); // requests that waited behind a transition are now refused
        CompleteStep(TeardownStep.StopAcceptingRequests);
        RunStep(TeardownStep.StopVcpus);
    }

    private void RunStep(TeardownStep step)
    {
        _currentStep = step;
        Timers.StartSingleTimer("teardown-step", new StepTimedOut(step), TeardownStepTimeout);
        switch (step)
        {
            case TeardownStep.StopVcpus:
                // Straight to each thread, so that a vCPU whose actor already died is stopped too; the
                // threads answer on behalf of their actors.
                _stepTag = Collect(_vcpus.Zip(_loops, (actor, loop) => (actor, (Action<IActorRef>)(r => loop.Post(StopVcpu.Instance, r)))).ToList(),
                    m => m is VcpuStopped, TeardownStepTimeout, watch: false);
                // A vCPU thread blocked on a lazy page its store could not produce can only stop once released.
                _asyncPf?.Tell(ReleaseUnreadableFaults.Instance);
                break;
            case TeardownStep.FlushOutstandingWork:
                // Barriers: every memslot change and device message queued before the teardown is handled;
                // async page faults: queued work cancelled, running workers waited for, done lists drained.
                var barriers = ReplyCollector.Tell(AllDevices.Select(d => d.Actor), FlushDevice.Instance).ToList();
                if (_memslots is not null) barriers.Add((_memslots, r => _memslots.Tell(GetMemslots.Instance, r)));
                if (_asyncPf is not null) barriers.Add((_asyncPf, r => _asyncPf.Tell(FlushAsyncPf.Instance, r)));
                _stepTag = Collect(barriers, m => m is DeviceFlushed or MemslotsSnapshot or AsyncPfFlushed, TeardownStepTimeout);
                break;
            case TeardownStep.ReleaseDevices:
                _stepTag = Collect(ReplyCollector.Tell(AllDevices.Select(d => d.Actor), ReleaseDevice.Instance), m => m is DeviceReleased, TeardownStepTimeout);
                break;
            case TeardownStep.RetireMemslots:
                _stepTag = Collect(_memslots is null ? [] : ReplyCollector.Tell([_memslots], RetireAllMemslots.Instance), m => m is MemslotsRetired, TeardownStepTimeout);
                break;
            case TeardownStep.UnmapGuestMemory:
                UnmapGuestMemory();
                CompleteStep(step);
                RunStep(TeardownStep.CloseFds);
                break;
            case TeardownStep.CloseFds:
                CloseFds();
                CompleteStep(step);
                FinishTeardown();
                break;
        }
    }

    private void OnStepCollected(Collected c)
    {
        var step = _currentStep!.Value;
        switch (step)
        {
            case TeardownStep.StopVcpus:
                if (!c.AllAcked)
                {
                    AbandonTeardown($"vCPU threads did not stop ({c.Problem})");
                    return;
                }
                foreach (var vcpu in _vcpus) Context.Stop(vcpu);
                CompleteStep(step);
                RunStep(TeardownStep.FlushOutstandingWork);
                return;
            case TeardownStep.FlushOutstandingWork:
                if (!c.AllAcked)
                {
                    _log.Warning("VM {0}: flush incomplete: {1}", Name, c.Problem);
                    // The async-PF actors may be gone without their flush: wait for page fetches still running.
                    if (_parts?.AsyncPf is { } router && !router.Abort(TeardownStepTimeout))
                        _log.Warning("VM {0}: {1} page fetches still running; lazy memory refuses their installs", Name, router.RunningFetches);
                }
                if (_asyncPf is not null) Context.Stop(_asyncPf);
                PublishConsole();
                CompleteStep(step);
                RunStep(TeardownStep.ReleaseDevices);
                return;
            case TeardownStep.ReleaseDevices:
                // A device whose actor is gone is released here; the vCPU threads have stopped.
                foreach (var (device, actor) in AllDevices)
                {
                    device.Release();
                    Context.Stop(actor);
                }
                CompleteStep(step);
                RunStep(TeardownStep.RetireMemslots);
                return;
            case TeardownStep.RetireMemslots:
                // If the memslot writer died, finish here: no vCPU thread can hold a snapshot any more.
                if (!c.AllAcked) _memslotTable?.RetireAllNow();
                if (_memslots is not null) Context.Stop(_memslots);
                CompleteStep(step);
                RunStep(TeardownStep.UnmapGuestMemory);
                return;
        }
    }

    private void CompleteStep(TeardownStep step)
    {
        _stepsDone.Add(step);
        Publish(new VmTeardownStepped(Name, step), toParent: false);
    }

    private void FinishTeardown()
    {
        _currentStep = null;
        _outcome = _teardownOutcome!;
        SetState(_outcome.FinalState);
        Become(Ended);
        Publish(new VmEnded(Name, _outcome), toParent: true);
        foreach (var r in _stopRequesters) r.Tell(new VmStopped(Name, _outcome));
        _stopRequesters.Clear();
    }

    // A step cannot complete (a vCPU thread stuck in a device): stop here. Guest memory stays mapped and
    // the handles open, because a thread that may still run must not find its memory unmapped.
    private void AbandonTeardown(string reason)
    {
        _log.Error("VM {0}: teardown abandoned at {1}: {2}", Name, _currentStep, reason);
        _teardownAbandoned = true;
        _currentStep = null;
        _outcome = new VmOutcome.Failed(reason);
        SetState(VmState.Failed);
        Become(Ended);
        Publish(new VmEnded(Name, _outcome), toParent: true);
        foreach (var r in _stopRequesters) r.Tell(new VmStopped(Name, _outcome));
        _stopRequesters.Clear();
    }

    private void UnmapGuestMemory()
    {
        foreach (var memory in _parts?.GuestMemory ?? []) memory.Dispose();
    }

    private void CloseFds()
    {
        foreach (var loop in _loops) loop.Join(TimeSpan.FromSeconds(1)); // each has already answered its stop
        if (_parts is null) return;
        foreach (var cpu in _parts.RunnableVcpus) cpu.Dispose();
        _parts.Vm.Dispose();
        foreach (var r in _parts.OtherResources) r.Dispose();
    }

    /// <summary>
    /// The actor is stopping (node shutdown, its parent's decision, or its own crash): if the teardown has
    /// not finished, run its remaining steps now, synchronously and in the same order. The children have
    /// already stopped; their threads are told to stop and joined before anything is released.
    /// </summary>
    protected override void PostStop()
    {
        if (_parts is null || _teardownAbandoned || _stepsDone.Contains(TeardownStep.CloseFds)) return;
        _teardownOutcome ??= new VmOutcome.StoppedOnRequest();
        if (_state != VmState.Stopping) SetState(VmState.Stopping);
        if (!_stepsDone.Contains(TeardownStep.StopAcceptingRequests)) CompleteStep(TeardownStep.StopAcceptingRequests);
        if (!_stepsDone.Contains(TeardownStep.StopVcpus))
        {
            foreach (var loop in _loops) loop.Post(StopVcpu.Instance, ActorRefs.Nobody);
            var stuck = _loops.Where(l => !l.Join(TeardownStepTimeout)).Select(l => l.Id).ToList();
            if (stuck.Count > 0)
            {
                _log.Error("VM {0}: vCPU threads {1} did not stop; leaking the VM's memory rather than unmapping it under them", Name, string.Join(",", stuck));
                return;
            }
            CompleteStep(TeardownStep.StopVcpus);
        }
        if (!_stepsDone.Contains(TeardownStep.FlushOutstandingWork))
        {
            // The async-PF actors are already stopped; wait for fetches still running before anything is unmapped.
            if (_parts.AsyncPf is { } router && !router.Abort(TeardownStepTimeout))
                _log.Warning("VM {0}: {1} page fetches still running after {2} s; lazy memory refuses their installs", Name, router.RunningFetches, TeardownStepTimeout.TotalSeconds);
            PublishConsole();
            CompleteStep(TeardownStep.FlushOutstandingWork);
        }
        if (!_stepsDone.Contains(TeardownStep.ReleaseDevices))
        {
            foreach (var (device, _) in AllDevices) device.Release();
            CompleteStep(TeardownStep.ReleaseDevices);
        }
        if (!_stepsDone.Contains(TeardownStep.RetireMemslots))
        {
            _memslotTable?.RetireAllNow();
            CompleteStep(TeardownStep.RetireMemslots);
        }
        UnmapGuestMemory();
        CompleteStep(TeardownStep.UnmapGuestMemory);
        CloseFds();
        CompleteStep(TeardownStep.CloseFds);
        _outcome = _teardownOutcome;
        SetState(_outcome.FinalState);
        Publish(new VmEnded(Name, _outcome), toParent: true);
        foreach (var r in _stopRequesters) r.Tell(new VmStopped(Name, _outcome));
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private int Collect(IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> targets, Func<object, bool> isAck, TimeSpan timeout, bool watch = true)
    {
        int tag = _nextTag++;
        Context.ActorOf(ReplyCollector.Props(tag, targets, isAck, timeout, watch), $"collect-{tag}");
        return tag;
    }

    private void ToVcpu(int vcpuId, object request)
    {
        if (vcpuId < 0 || vcpuId >= _vcpus.Length) Refuse(new VmError.UnknownVcpu(vcpuId, _vcpus.Length));
        else _vcpus[vcpuId].Forward(request);
    }

    private VmError VcpuProblem(Collected c) =>
        c.Failures.OfType<VcpuRequestFailed>().FirstOrDefault() is { } f
            ? new VmError.VcpuFailed(f.VcpuId, f.Error)
            : new VmError.VcpusUnresponsive(c.Problem);

    private void Refuse(VmError error) => Sender.Tell(new VmRequestFailed(Name, error));

    // The devices released in the teardown: those of the spec, then the KVM-VFIO device (kvm_destroy_devices).
    private IEnumerable<(VmDevice Device, IActorRef Actor)> AllDevices => _vfio is { } v ? [.. _devices, v] : _devices;

    private void PublishConsole()
    {
        var bytes = _console.Drain();
        if (bytes.Length > 0) Publish(new VmConsoleOutput(Name, bytes), toParent: false);
    }

    private void Publish(VmEvent e, bool toParent)
    {
        foreach (var s in _subscribers) s.Tell(e);
        if (toParent) Context.Parent.Tell(e);
        Context.System.EventStream.Publish(e);
    }

    private VmDescription Describe() => new(
        Name, _state, _spec.VcpuCount, _spec.MemoryBytes, _spec.Description,
        _devices.Select(d => d.Device.Name).ToList(), _view.Current.Count, _outcome);

    private sealed record PendingTransition(int Tag, VmState Target, IActorRef Requester);

    private sealed record ChildCrashed(string Reason);

    private sealed record StepTimedOut(TeardownStep Step);

    private sealed record ConsoleWaiting
    {
        public static readonly ConsoleWaiting Instance = new();
    }
}
