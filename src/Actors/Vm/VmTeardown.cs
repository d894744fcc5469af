using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Vcpu;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// The teardown of one VM (kvm_destroy_vm; docs/architecture.md "VM lifecycle and teardown"): the ordered <see cref="TeardownStep"/>s,
/// each with an asynchronous start (messages to the children, continued when they answered) and a synchronous
/// run-now (for a VmActor that is stopping before the teardown finished). The VmActor drives it step by step
/// (<see cref="RunNextStep"/>) and its PostStop completes it (<see cref="RunRemainingNow"/>); each completed
/// step is reported, and the end once, with the outcome and the stop requesters to answer.
/// </summary>
internal sealed class VmTeardown
{
    private const string StepTimerKey = "teardown-step";

    private readonly BuiltVm _vm;
    private readonly IActorContext _context;
    private readonly ITimerScheduler? _timers;
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _stepTimeout;
    private readonly Action<TeardownStep> _stepped;
    private readonly Action _publishConsole;
    private readonly Action<VmTeardown> _ended;
    private readonly IReadOnlyList<Step> _steps;
    private readonly List<IActorRef> _stopRequesters = new();
    private int _next;
    private FanOut? _waiting;

    /// <summary>
    /// A teardown of <paramref name="vm"/> ending with <paramref name="outcome"/>, run from the VmActor's
    /// <paramref name="context"/>; <paramref name="timers"/> bound each asynchronous step by <paramref name="stepTimeout"/>.
    /// </summary>
    public VmTeardown(BuiltVm vm, VmOutcome outcome, IActorContext context, ITimerScheduler? timers, TimeSpan stepTimeout,
        Action<TeardownStep> stepped, Action publishConsole, Action<VmTeardown> ended)
    {
        _vm = vm;
        Outcome = outcome;
        _context = context;
        _timers = timers;
        _log = context.GetLogger();
        _stepTimeout = stepTimeout;
        _stepped = stepped;
        _publishConsole = publishConsole;
        _ended = ended;
        // The order of kvm_destroy_vm, stated here only: nothing is released that a running vCPU thread or a
        // queued message may still use.
        _steps =
        [
            new(TeardownStep.StopAcceptingRequests, done => done(null), () => null),
            new(TeardownStep.StopVcpus, StartStoppingVcpus, StopVcpusNow),
            new(TeardownStep.FlushOutstandingWork, StartFlushing, FlushNow),
            new(TeardownStep.ReleaseDevices, StartReleasingDevices, ReleaseDevicesNow),
            new(TeardownStep.RetireMemslots, StartRetiringMemslots, RetireMemslotsNow),
            new(TeardownStep.UnmapGuestMemory, done => done(UnmapGuestMemory()), UnmapGuestMemory),
            new(TeardownStep.CloseFds, done => done(CloseFds()), CloseFds),
        ];
    }

    /// <summary>How the VM ends: the cause given at the start, or the failure that abandoned the teardown.</summary>
    public VmOutcome Outcome { get; private set; }

    /// <summary>True once the last step completed or the teardown was abandoned.</summary>
    public bool IsEnded { get; private set; }

    /// <summary>True if a step could not complete: guest memory stays mapped and the handles open.</summary>
    public bool IsAbandoned { get; private set; }

    /// <summary>Who asked for the stop; answered at the end.</summary>
    public IReadOnlyList<IActorRef> StopRequesters => _stopRequesters;

    /// <summary>Adds a sender of StopVm to answer at the end.</summary>
    public void AddStopRequester(IActorRef requester) => _stopRequesters.Add(requester);

    /// <summary>Replaces the outcome (the VmActor itself failed before the teardown finished).</summary>
    public void FailWith(VmOutcome outcome) => Outcome = outcome;

    /// <summary>Starts the next step; its completion starts the one after (on the actor), until the end.</summary>
    public void RunNextStep()
    {
        if (IsEnded) return;
        if (_next == _steps.Count)
        {
            End();
            return;
        }
        var step = _steps[_next];
        _timers?.StartSingleTimer(StepTimerKey, new TeardownStepTimedOut(step.Name), _stepTimeout);
        step.Start(problem => OnStepDone(step, problem));
    }

    /// <summary>A step's deadline passed: if it is still running, the teardown is abandoned there.</summary>
    public void OnTimedOut(TeardownStep step)
    {
        if (!IsEnded && _steps[_next].Name == step) Abandon($"teardown step {step} did not finish within {_stepTimeout.TotalSeconds:0} s");
    }

    /// <summary>
    /// Runs every step not completed yet (the one in progress included) now, synchronously and in the same
    /// order: the VmActor is stopping, its children already stopped.
    /// </summary>
    public void RunRemainingNow()
    {
        if (IsEnded) return;
        _waiting?.Cancel();
        while (_next < _steps.Count)
        {
            var step = _steps[_next];
            if (step.RunNow() is { } problem)
            {
                Abandon(problem);
                return;
            }
            Complete(step);
        }
        End();
    }

    /// <summary>Releases the hardware of a VM whose children never started (a failed build), in the teardown's order.</summary>
    public static void ReleaseUnstarted(BuiltVm hardware, IActorContext context) =>
        new VmTeardown(hardware, new VmOutcome.StoppedOnRequest(), context, null, TimeSpan.Zero, _ => { }, () => { }, _ => { }).RunRemainingNow();

    private void OnStepDone(Step step, string? problem)
    {
        if (IsEnded || !ReferenceEquals(_steps[_next], step)) return;
        _waiting = null;
        if (problem is not null)
        {
            Abandon(problem);
            return;
        }
        Complete(step);
        RunNextStep();
    }

    private void Complete(Step step)
    {
        _next++;
        _stepped(step.Name);
    }

    // A step cannot complete (a vCPU thread stuck in a device): stop here. Guest memory stays mapped and
    // the handles open, because a thread that may still run must not find its memory unmapped.
    private void Abandon(string reason)
    {
        _log.Error("VM {0}: teardown abandoned at {1}: {2}", _vm.Name, _steps[_next].Name, reason);
        _waiting?.Cancel();
        IsAbandoned = true;
        Outcome = new VmOutcome.Failed(reason);
        End();
    }

    private void End()
    {
        IsEnded = true;
        _timers?.Cancel(StepTimerKey);
        _ended(this);
    }

    private void Collect(IReadOnlyList<(IActorRef Target, Action<IActorRef> Send)> targets, Func<object, bool> isAck, Action<Collected> then, bool watch = true) =>
        _waiting = FanOut.Start(_context, targets, isAck, _stepTimeout, then, watch);

    // ---- StopVcpus ----

    private void StartStoppingVcpus(Action<string?> done)
    {
        // Straight to each thread, so that a vCPU whose actor already died is stopped too; the threads answer
        // on behalf of their actors.
        Collect(_vm.Vcpus.Zip(_vm.Loops, (actor, loop) => (actor, (Action<IActorRef>)(r => loop.Post(StopVcpu.Instance, r)))).ToList(),
            m => m is VcpuStopped, c =>
            {
                if (!c.AllAcked)
                {
                    done($"vCPU threads did not stop ({c.Problem})");
                    return;
                }
                foreach (var vcpu in _vm.Vcpus) _context.Stop(vcpu);
                done(null);
            }, watch: false);
        // A vCPU thread blocked on a lazy page its store could not produce can only stop once released.
        _vm.AsyncPf?.Tell(ReleaseUnreadableFaults.Instance);
    }

    private string? StopVcpusNow()
    {
        foreach (var loop in _vm.Loops) loop.Post(StopVcpu.Instance, ActorRefs.Nobody);
        var stuck = _vm.Loops.Where(l => !l.Join(_stepTimeout)).Select(l => l.Id).ToList();
        return stuck.Count == 0 ? null
            : $"vCPU threads {string.Join(",", stuck)} did not stop; leaking the VM's memory rather than unmapping it under them";
    }

    // ---- FlushOutstandingWork ----

    private void StartFlushing(Action<string?> done)
    {
        // Barriers: every memslot change and device message queued before the teardown is handled; async page
        // faults: queued work cancelled, running workers waited for, done lists drained.
        var barriers = FanOut.Tell(_vm.DeviceActors, FlushDevice.Instance).ToList();
        if (_vm.Memslots is { } memslots) barriers.Add((memslots, r => memslots.Tell(GetMemslots.Instance, r)));
        if (_vm.AsyncPf is { } asyncPf) barriers.Add((asyncPf, r => asyncPf.Tell(FlushAsyncPf.Instance, r)));
        Collect(barriers, m => m is DeviceFlushed or MemslotsSnapshot or AsyncPfFlushed, c =>
        {
            if (!c.AllAcked)
            {
                _log.Warning("VM {0}: flush incomplete: {1}", _vm.Name, c.Problem);
                // The async-PF actors may be gone without their flush: wait for page fetches still running.
                AbortPageFetches();
            }
            if (_vm.AsyncPf is { } asyncPf) _context.Stop(asyncPf);
            _publishConsole();
            done(null);
        });
    }

    private string? FlushNow()
    {
        // The async-PF actors are already stopped; wait for fetches still running before anything is unmapped.
        AbortPageFetches();
        _publishConsole();
        return null;
    }

    private void AbortPageFetches()
    {
        if (_vm.Parts.AsyncPf is { } router && !router.Abort(_stepTimeout))
            _log.Warning("VM {0}: {1} page fetches still running; lazy memory refuses their installs", _vm.Name, router.RunningFetches);
    }

    // ---- ReleaseDevices ----

    private void StartReleasingDevices(Action<string?> done) =>
        Collect(FanOut.Tell(_vm.DeviceActors, ReleaseDevice.Instance), m => m is DeviceReleased, _ =>
        {
            // A device whose actor is gone is released here; the vCPU threads have stopped.
            ReleaseDevicesNow();
            foreach (var actor in _vm.DeviceActors) _context.Stop(actor);
            done(null);
        });

    private string? ReleaseDevicesNow()
    {
        foreach (var device in _vm.Devices) device.Release();
        return null;
    }

    // ---- RetireMemslots ----

    private void StartRetiringMemslots(Action<string?> done) =>
        Collect(_vm.Memslots is { } memslots ? FanOut.Tell([memslots], RetireAllMemslots.Instance) : [], m => m is MemslotsRetired, c =>
        {
            // If the memslot writer died, finish here: no vCPU thread can hold a snapshot any more.
            if (!c.AllAcked) RetireMemslotsNow();
            if (_vm.Memslots is { } writer) _context.Stop(writer);
            done(null);
        });

    private string? RetireMemslotsNow()
    {
        _vm.MemslotTable?.RetireAllNow();
        return null;
    }

    // ---- UnmapGuestMemory, CloseFds ----

    private string? UnmapGuestMemory()
    {
        foreach (var memory in _vm.Parts.GuestMemory) memory.Dispose();
        return null;
    }

    private string? CloseFds()
    {
        foreach (var loop in _vm.Loops) loop.Join(TimeSpan.FromSeconds(1)); // each has already answered its stop
        foreach (var cpu in _vm.Parts.RunnableVcpus) cpu.Dispose();
        _vm.Parts.Vm.Dispose();
        _vm.Parts.VcpuThreads?.Dispose();
        foreach (var r in _vm.Parts.OtherResources) r.Dispose();
        return null;
    }

    // One step: its asynchronous start (calls done with null, or why the teardown cannot go on) and its
    // synchronous run-now (returns the same).
    private sealed record Step(TeardownStep Name, Action<Action<string?>> Start, Func<string?> RunNow);
}

/// <summary>Teardown step <paramref name="Step"/> did not finish in time (a timer of the VmActor).</summary>
internal sealed record TeardownStepTimedOut(TeardownStep Step);
