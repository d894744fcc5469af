using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vfio;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Memory;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// One VM (kvm->lock, locking.rst section 1: taken outside vcpu->mutex and slots_lock, so the vCPUs and the
/// memslot writer are its children). Built by <see cref="VmBuilder"/>, then runs the lifecycle
/// Created -> Running &lt;-> Paused -> Stopping -> Stopped | Failed as behaviours, each capturing its own data
/// (<see cref="LiveData"/>, <see cref="Transition"/>, the <see cref="VmTeardown"/>, the outcome). Children: one
/// VcpuActor per vCPU, one MemslotSetActor, one DeviceActor per device, one KvmVfioDeviceActor.
/// Supervision: any exception in a child stops that child and fails this VM (never the node); the VM then
/// tears itself down. If the actor is stopped before its teardown finished (node shutdown, its own crash),
/// <see cref="PostStop"/> completes the teardown synchronously.
/// </summary>
public sealed class VmActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>How long a vCPU may take to acknowledge pause/resume/flush before the VM is failed.</summary>
    public static readonly TimeSpan VcpuAckTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long one teardown step may take before the teardown gives up (leaking rather than unmapping memory a thread may still use).</summary>
    public static readonly TimeSpan TeardownStepTimeout = TimeSpan.FromSeconds(15);

    private readonly VmActorSpec _spec;
    private readonly IActorRef _self;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConsoleRelay _console;
    private readonly MemslotView _view = new(MemslotSet.Empty);
    private readonly VmEventFeed _events;
    private readonly VmReports _reports;
    private BuiltVm? _vm;
    private VmState _state = VmState.Created; // changed only with the behaviour, by Enter
    private long _stateSince = System.Diagnostics.Stopwatch.GetTimestamp(); // when _state was entered, for the state-duration metric
    private VmTeardown? _teardown; // once started; PostStop completes it
    private VmOutcome? _crash; // this actor's own exception, reported by the teardown PostStop runs
    private VmSnapshotWrite? _snapshot; // while a snapshot is being taken; PostStop waits for its write
    private VmMigrationSend? _migration; // while a live migration is being sent; PostStop cancels it and waits for its thread

    /// <summary>The stash used while a transition waits for its vCPUs.</summary>
    public IStash Stash { get; set; } = null!;

    /// <summary>Timers (teardown step deadlines).</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for a VM built from <paramref name="spec"/>.</summary>
    public static Props Props(VmActorSpec spec) => Akka.Actor.Props.Create(() => new VmActor(spec));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public VmActor(VmActorSpec spec)
    {
        _spec = spec;
        _self = Self;
        _console = new ConsoleRelay(() => _self.Tell(ConsoleWaiting.Instance));
        _events = new VmEventFeed(Self, Context.Parent);
        _reports = new VmReports(spec, () => _vm, _view, _console, _events);
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

    /// <inheritdoc />
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            _crash = new VmOutcome.Failed($"the VM actor failed: {e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _vm = VmBuilder.Build(_spec, Context, _console, _view, out var failure);
        if (_vm is not null)
        {
            Become(() => Live(VmState.Created, new LiveData()));
            _stateSince = System.Diagnostics.Stopwatch.GetTimestamp();
            Metrics.ActorsMeter.Transition(VmState.Created);
            Context.Parent.Tell(new VmReady(Name, Self));
            return;
        }
        // Never Created: nothing to announce but the failure.
        Enter(VmState.Failed, () => Ended(new VmOutcome.Failed($"building the VM failed: {failure!.Reason}"), abandoned: false), publish: false);
        Context.Parent.Tell(failure);
    }

    // ---- Created, Running, Paused ----------------------------------------------------------------

    private void Live(VmState state, LiveData live)
    {
        var vm = _vm!;
        var memslots = vm.Memslots!;
        var vfio = vm.Vfio!;
        Receive<StartVm>(_ => state == VmState.Created, _ => BeginTransition(live, state, VmState.Running, ResumeVcpu.Instance, m => m is VcpuResumed));
        Receive<PauseVm>(_ => state == VmState.Running, _ => BeginTransition(live, state, VmState.Paused, PauseVcpu.Instance, m => m is VcpuPaused));
        Receive<ResumeVm>(_ => state == VmState.Paused, _ =>
        {
            live.Halted.Clear();
            BeginTransition(live, state, VmState.Running, ResumeVcpu.Instance, m => m is VcpuResumed);
        });
        // A Created VM is snapshotted as built (its vCPUs parked before the first instruction), a Paused one where it stopped.
        Receive<SnapshotVm>(_ => state is VmState.Paused or VmState.Created, m => BeginSnapshot(live, state, m));
        Receive<SnapshotVm>(_ => Refuse(new VmError.InvalidTransition(state, "snapshot")));
        Receive<MigrateVm>(_ => state == VmState.Running, m => BeginMigration(live, m));
        Receive<MigrateVm>(_ => Refuse(new VmError.InvalidTransition(state, "migrate")));
        Receive<CancelVmMigration>(_ => { }); // the migration ended already
        Receive<StartVm>(_ => Refuse(new VmError.InvalidTransition(state, "start")));
        Receive<PauseVm>(_ => Refuse(new VmError.InvalidTransition(state, "pause")));
        Receive<ResumeVm>(_ => Refuse(new VmError.InvalidTransition(state, "resume")));
        Receive<StopVm>(_ => BeginTeardown(new VmOutcome.StoppedOnRequest(), live, Sender));
        Receive<GetRegisters>(m => ToVcpu(m.VcpuId, GetVcpuRegisters.Instance));
        Receive<SetRegisters>(m => ToVcpu(m.VcpuId, new SetVcpuRegisters(m.Registers, m.Special)));
        Receive<FlushTlb>(_ => FlushTlbs(live, Sender));
        Receive<SendConsoleInput>(m =>
        {
            // The UART is a device on the bus, called inline on vCPU threads; Feed is thread-safe.
            var uart = vm.Parts.Devices.Select(d => d.Device).OfType<Uart16550>().FirstOrDefault();
            Sender.Tell(new ConsoleInputAccepted(Name, uart?.Feed(m.Bytes) ?? 0));
        });
        Receive<SetMemslot>(m => memslots.Forward(m));
        Receive<DeleteMemslot>(m => memslots.Forward(m));
        Receive<GetMemslots>(m => memslots.Forward(m));
        Receive<ReadGuestMemory>(m =>
        {
            if (m.Length is < 1 or > ReadGuestMemory.MaxLength) Refuse(new VmError.MemoryReadLengthInvalid(m.Length, ReadGuestMemory.MaxLength));
            else memslots.Forward(new ReadGuestMemoryFor(Name, m));
        });
        Receive<AttachVfioFile>(m => vfio.Forward(m));
        Receive<DetachVfioFile>(m => vfio.Forward(m));
        Receive<ListVfioFiles>(m => vfio.Forward(m));
        Receive<IAsyncPfRequest>(m =>
        {
            if (vm.AsyncPf is null) Refuse(new VmError.LazyMemoryRefused("the VM has no lazy memory"));
            else vm.AsyncPf.Forward(m);
        });
        Receive<VcpuHalted>(m =>
        {
            live.Halted.Add(m.VcpuId);
            if (live.Halted.Count == vm.Vcpus.Count) BeginTeardown(new VmOutcome.Halted(), live);
        });
        Receive<VcpuGuestEnded>(m => BeginTeardown(vm.Parts.OutcomeOf(m), live));
        Receive<ChildCrashed>(m => BeginTeardown(new VmOutcome.Failed(m.Reason), live));
        Receive<LazyMemoryFailed>(m => BeginTeardown(new VmOutcome.Failed(m.Reason), live));
        Receive<Terminated>(t => BeginTeardown(new VmOutcome.Failed($"{t.ActorRef.Path.Name} stopped unexpectedly"), live));
        Always(null);
    }

    private void FlushTlbs(LiveData live, IActorRef requester)
    {
        FanOut? flush = null;
        flush = FanOut.Start(Context, FanOut.Tell(_vm!.Vcpus, FlushVcpuTlb.Instance), m => m is VcpuTlbFlushed, VcpuAckTimeout, c =>
        {
            live.Flushes.Remove(flush!);
            requester.Tell(c.AllAcked ? new TlbFlushed(Name, c.Acks.Count) : new VmRequestFailed(Name, VmError.OfVcpus(c)));
        });
        live.Flushes.Add(flush, requester);
    }

    // ---- a transition waits for every vCPU; other requests wait in the stash -----------------------

    private void BeginTransition(LiveData live, VmState from, VmState target, IVcpuRequest request, Func<object, bool> isAck,
        IActorRef? requesterOverride = null, object? reply = null)
    {
        var requester = requesterOverride ?? Sender;
        var acks = FanOut.Start(Context, FanOut.Tell(_vm!.Vcpus, request), isAck, VcpuAckTimeout, c =>
        {
            if (c.AllAcked)
            {
                Enter(target, () => Live(target, live));
                requester.Tell(reply ?? new VmTransitioned(Name, target));
                Stash.UnstashAll();
                return;
            }
            var error = VmError.OfVcpus(c);
            requester.Tell(new VmRequestFailed(Name, error));
            BeginTeardown(new VmOutcome.Failed($"vCPUs did not complete the change to {target}: {error.Message}"), live);
        });
        Become(() => Transitioning(new Transition(live, from, requester, acks)));
    }

    private void Transitioning(Transition t)
    {
        Receive<FanOutDone>(d => d.FanOut.Complete(d.Answers));
        // Report the crash itself, not the vCPU that can no longer acknowledge.
        Receive<ChildCrashed>(m => AbortTransition(t, m.Reason));
        Receive<LazyMemoryFailed>(m => AbortTransition(t, m.Reason));
        Receive<GetVmDescription>(_ => Sender.Tell(_reports.Describe(t.From, null)));
        Receive<GetAsyncPfCounters>(_ => Sender.Tell(_reports.AsyncPfCounters()));
        Receive<ConsoleWaiting>(_ => _reports.PublishConsole());
        ReceiveAny(_ => Stash.Stash());
    }

    private void AbortTransition(Transition t, string reason)
    {
        t.Acks.Cancel();
        t.Requester.Tell(new VmRequestFailed(Name, new VmError.VcpusUnresponsive(reason)));
        BeginTeardown(new VmOutcome.Failed(reason), t.Live);
    }

    // ---- snapshot of a Paused VM: the vCPU states, then the files off the actor's thread; other requests wait ----

    private void BeginSnapshot(LiveData live, VmState state, SnapshotVm request)
    {
        var vm = _vm!;
        if (vm.Parts.SnapshotContent is not { } contentOf)
        {
            Refuse(new VmError.SnapshotFailed("this VM's hardware cannot be snapshotted"));
            return;
        }
        var snapshot = _snapshot = new VmSnapshotWrite(request, Sender, live, state);
        snapshot.VcpuStates = FanOut.Start(Context, FanOut.Tell(vm.Vcpus, SaveVcpuState.Instance), m => m is VcpuStateSaved, VcpuAckTimeout, c =>
        {
            snapshot.VcpuStates = null;
            if (!c.AllAcked)
            {
                EndSnapshot(snapshot, new VmRequestFailed(Name, new VmError.SnapshotFailed($"saving the vCPU state failed: {VmError.OfVcpus(c).Message}")));
                return;
            }
            Hardware.Snapshots.SnapshotContent content;
            try
            {
                content = contentOf([.. c.Acks.OfType<VcpuStateSaved>().OrderBy(s => s.VcpuId).Select(s => s.State)]) with { VmName = Name };
            }
            catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
            {
                EndSnapshot(snapshot, new VmRequestFailed(Name, new VmError.SnapshotFailed(e.Message)));
                return;
            }
            snapshot.Start(content, Name, Self);
        });
        Become(() => Snapshotting(snapshot));
    }

    private void Snapshotting(VmSnapshotWrite snapshot)
    {
        Receive<FanOutDone>(d => d.FanOut.Complete(d.Answers));
        Receive<SnapshotWriteEnded>(m =>
        {
            if (m.Result is not { } result)
            {
                EndSnapshot(snapshot, new VmRequestFailed(Name, new VmError.SnapshotFailed(m.Error ?? "the write failed")));
                return;
            }
            var done = new VmSnapshotted(Name, result.Directory, result.Manifest.MemoryBytes, result.BytesOnDisk, snapshot.Elapsed, snapshot.Request.Resume);
            if (!snapshot.Request.Resume || snapshot.State != VmState.Paused)
            {
                EndSnapshot(snapshot, done);
                return;
            }
            _snapshot = null;
            snapshot.Live.Halted.Clear();
            BeginTransition(snapshot.Live, VmState.Paused, VmState.Running, ResumeVcpu.Instance, a => a is VcpuResumed, snapshot.Requester, done);
        });
        Receive<GetVmDescription>(_ => Sender.Tell(_reports.Describe(snapshot.State, null)));
        Receive<GetAsyncPfCounters>(_ => Sender.Tell(_reports.AsyncPfCounters()));
        Receive<ConsoleWaiting>(_ => _reports.PublishConsole());
        // Crashes too: memory may not be released while the write reads it.
        ReceiveAny(_ => Stash.Stash());
    }

    private void EndSnapshot(VmSnapshotWrite snapshot, object reply)
    {
        _snapshot = null;
        snapshot.Requester.Tell(reply);
        Become(() => Live(snapshot.State, snapshot.Live));
        Stash.UnstashAll();
    }

    // ---- live migration of a Running VM: pages from a thread, the pause and resume through here; other requests wait ----

    private void BeginMigration(LiveData live, MigrateVm request)
    {
        var vm = _vm!;
        if (vm.Parts.Machine is not { } machine || vm.Parts.SnapshotContent is null)
        {
            Refuse(new VmError.MigrationFailed("this VM's hardware cannot be migrated"));
            return;
        }
        var send = _migration = new VmMigrationSend(request, Sender, live, Name, machine, Self);
        send.Start();
        Become(() => Migrating(send));
    }

    private void Migrating(VmMigrationSend send)
    {
        Receive<FanOutDone>(d => d.FanOut.Complete(d.Answers));
        Receive<MigrationPauseWanted>(m => PauseForMigration(send, m));
        Receive<MigrationResumeWanted>(m => ResumeAfterMigration(send, m));
        Receive<MigrationSendEnded>(m => EndMigration(send, m));
        Receive<GetVmDescription>(_ => Sender.Tell(_reports.Describe(VmState.Running, null)));
        Receive<GetAsyncPfCounters>(_ => Sender.Tell(_reports.AsyncPfCounters()));
        Receive<ConsoleWaiting>(_ => _reports.PublishConsole());
        // The guest ended, a part crashed or a stop was asked for: the migration is cancelled, and this handled once it ended.
        Receive<VcpuGuestEnded>(_ => CancelMigration(send));
        Receive<VcpuHalted>(_ => CancelMigration(send));
        Receive<ChildCrashed>(_ => CancelMigration(send));
        Receive<LazyMemoryFailed>(_ => CancelMigration(send));
        Receive<Terminated>(_ => CancelMigration(send));
        Receive<StopVm>(_ => CancelMigration(send));
        Receive<CancelVmMigration>(_ => send.Cancel());
        ReceiveAny(_ => Stash.Stash());
    }

    private void CancelMigration(VmMigrationSend send)
    {
        send.Cancel();
        Stash.Stash();
    }

    private void PauseForMigration(VmMigrationSend send, MigrationPauseWanted wanted)
    {
        var vm = _vm!;
        send.Vcpus = FanOut.Start(Context, FanOut.Tell(vm.Vcpus, PauseVcpu.Instance), m => m is VcpuPaused, VcpuAckTimeout, paused =>
        {
            send.Vcpus = null;
            if (!paused.AllAcked)
            {
                wanted.Done.TrySetException(new Hardware.Migration.MigrationException($"pausing the vCPUs failed: {VmError.OfVcpus(paused).Message}"));
                return;
            }
            send.Paused = true;
            send.Vcpus = FanOut.Start(Context, FanOut.Tell(vm.Vcpus, SaveVcpuState.Instance), m => m is VcpuStateSaved, VcpuAckTimeout, saved =>
            {
                send.Vcpus = null;
                if (!saved.AllAcked)
                {
                    wanted.Done.TrySetException(new Hardware.Migration.MigrationException($"saving the vCPU state failed: {VmError.OfVcpus(saved).Message}"));
                    return;
                }
                try
                {
                    var states = saved.Acks.OfType<VcpuStateSaved>().OrderBy(a => a.VcpuId).Select(a => a.State).ToList();
                    wanted.Done.TrySetResult(vm.Parts.SnapshotContent!(states) with { VmName = Name });
                }
                catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
                {
                    wanted.Done.TrySetException(new Hardware.Migration.MigrationException(e.Message, e));
                }
            });
        });
    }

    private void ResumeAfterMigration(VmMigrationSend send, MigrationResumeWanted wanted)
    {
        send.Vcpus = FanOut.Start(Context, FanOut.Tell(_vm!.Vcpus, ResumeVcpu.Instance), m => m is VcpuResumed, VcpuAckTimeout, resumed =>
        {
            send.Vcpus = null;
            send.Paused = false;
            if (resumed.AllAcked) wanted.Done.TrySetResult(null);
            else wanted.Done.TrySetException(new Hardware.Migration.MigrationException($"resuming the vCPUs failed: {VmError.OfVcpus(resumed).Message}"));
        });
    }

    private void EndMigration(VmMigrationSend send, MigrationSendEnded ended)
    {
        _migration = null;
        if (ended.Result is { } result)
        {
            // The target runs the VM now: this copy ends (its vCPUs stay paused until the teardown stops them).
            send.Requester.Tell(new VmMigrated(Name, send.Target, result));
            BeginTeardown(new VmOutcome.MigratedAway(send.Target), send.Live);
            return;
        }
        send.Requester.Tell(new VmRequestFailed(Name, new VmError.MigrationFailed(ended.Error ?? "the migration failed")));
        if (send.Paused)
        {
            BeginTeardown(new VmOutcome.Failed($"a failed migration left the vCPUs paused: {ended.Error}"), send.Live);
            return;
        }
        Become(() => Live(VmState.Running, send.Live));
        Stash.UnstashAll();
    }

    // ---- teardown (kvm_destroy_vm) ----------------------------------------------------------------

    private void BeginTeardown(VmOutcome outcome, LiveData live, IActorRef? stopRequester = null)
    {
        if (outcome is VmOutcome.Failed f) _log.Warning("VM {0} failed: {1}", Name, f.Reason);
        foreach (var (flush, requester) in live.Flushes)
        {
            flush.Cancel();
            requester.Tell(new VmRequestFailed(Name, new VmError.NotAccepting(VmState.Stopping)));
        }
        var teardown = _teardown = NewTeardown(outcome);
        if (stopRequester is not null) teardown.AddStopRequester(stopRequester);
        Enter(VmState.Stopping, () => Stopping(teardown));
        Stash.UnstashAll(); // requests that waited behind a transition are now refused
        teardown.RunNextStep();
    }

    private VmTeardown NewTeardown(VmOutcome outcome) => new(_vm!, outcome, Context, Timers, TeardownStepTimeout,
        step => _events.Publish(new VmTeardownStepped(Name, step), toParent: false), _reports.PublishConsole, OnTeardownEnded);

    private void Stopping(VmTeardown teardown)
    {
        Receive<StopVm>(_ => teardown.AddStopRequester(Sender));
        Receive<IVmRequest>(_ => Refuse(new VmError.NotAccepting(VmState.Stopping)));
        Receive<TeardownStepTimedOut>(m => teardown.OnTimedOut(m.Step));
        Receive<ChildCrashed>(m => _log.Warning("VM {0}: a child crashed during teardown: {1}", Name, m.Reason));
        Receive<LazyMemoryFailed>(m => _log.Warning("VM {0}: lazy memory failed during teardown: {1}", Name, m.Reason));
        NoLongerLive("stopping");
        Always(null);
    }

    // The one ending: the final state, the VmEnded event, the answers to every StopVm.
    private void OnTeardownEnded(VmTeardown teardown)
    {
        var outcome = teardown.Outcome;
        Enter(outcome.FinalState, () => Ended(outcome, teardown.IsAbandoned));
        _events.Publish(new VmEnded(Name, outcome), toParent: true);
        foreach (var r in teardown.StopRequesters) r.Tell(new VmStopped(Name, outcome), _self);
    }

    private void Ended(VmOutcome outcome, bool abandoned)
    {
        var state = outcome.FinalState;
        Receive<StopVm>(_ => Sender.Tell(new VmStopped(Name, outcome)));
        // An abandoned teardown left the memory mapped (a thread may still use it), but no longer lends it out.
        Receive<ReadGuestMemory>(_ => Refuse(abandoned ? new VmError.NotAccepting(state) : new VmError.GuestMemoryUnmapped(state)));
        Receive<IVmRequest>(_ => Refuse(new VmError.NotAccepting(state)));
        Receive<SubscribeVm>(m =>
        {
            Sender.Tell(new VmSubscribed(Name, state));
            m.Subscriber.Tell(new VmEnded(Name, outcome));
        });
        Receive<ChildCrashed>(_ => { });
        Receive<LazyMemoryFailed>(_ => { });
        NoLongerLive(state.ToString());
        Always(outcome);
    }

    /// <summary>
    /// The actor is stopping (node shutdown, its parent's decision, or its own crash): if the teardown has
    /// not finished, its remaining steps run now, synchronously and in the same order. The children have
    /// already stopped; their threads are told to stop and joined before anything is released.
    /// </summary>
    protected override void PostStop()
    {
        if (_vm is null || _teardown is { IsEnded: true }) return;
        // A migration still reading guest memory: stop it, and let the memory go only once its thread is done.
        _migration?.Cancel();
        if (_migration is { } migration && !migration.WaitForEnd(TeardownStepTimeout))
        {
            _log.Error("VM {0}: a migration did not end within {1}; guest memory is left mapped", Name, TeardownStepTimeout);
            return;
        }
        // A snapshot still reading guest memory: the memory may only go once it is done.
        if (_snapshot is { } snapshot && !snapshot.WaitForWrite(TeardownStepTimeout))
        {
            _log.Error("VM {0}: a snapshot write did not end within {1}; guest memory is left mapped", Name, TeardownStepTimeout);
            return;
        }
        if (_teardown is null)
        {
            _teardown = NewTeardown(_crash ?? new VmOutcome.StoppedOnRequest());
            Enter(VmState.Stopping, () => { });
        }
        else if (_crash is not null) _teardown.FailWith(_crash);
        _teardown.RunRemainingNow();
    }

    // ---- helpers ---------------------------------------------------------------------------------

    // Stopping and ended: memslots no longer change (the last snapshot is still shown); what the children
    // report is moot.
    private void NoLongerLive(string state)
    {
        Receive<SetMemslot>(_ => Sender.Tell(new MemslotRequestFailed($"the VM is {state}")));
        Receive<DeleteMemslot>(_ => Sender.Tell(new MemslotRequestFailed($"the VM is {state}")));
        Receive<GetMemslots>(_ => Sender.Tell(new MemslotsSnapshot(_view.Current)));
        Receive<VcpuHalted>(_ => { });
        Receive<VcpuGuestEnded>(_ => { });
        Receive<Terminated>(_ => { });
    }

    // Answered in every state but a transition (which answers some, stashes the rest).
    private void Always(VmOutcome? outcome)
    {
        Receive<FanOutDone>(d => d.FanOut.Complete(d.Answers));
        Receive<GetVmDescription>(_ => Sender.Tell(_reports.Describe(_state, outcome)));
        Receive<GetAsyncPfCounters>(_ => Sender.Tell(_reports.AsyncPfCounters()));
        Receive<SubscribeVm>(m =>
        {
            _events.Subscribe(m.Subscriber);
            Sender.Tell(new VmSubscribed(Name, _state));
        });
        Receive<UnsubscribeVm>(m =>
        {
            _events.Unsubscribe(m.Subscriber);
            Sender.Tell(new VmUnsubscribed(Name));
        });
        Receive<ConsoleWaiting>(_ => _reports.PublishConsole());
        Receive<VmEvent>(_ => _vm?.Vfio is { } vfio && Sender.Equals(vfio), e => _events.Publish(e, toParent: false));
    }

    // The state changes with its behaviour, and the change is published.
    private void Enter(VmState next, Action behaviour, bool publish = true)
    {
        var from = _state;
        _state = next;
        Become(behaviour);
        if (next != from)
        {
            Metrics.ActorsMeter.Left(from, System.Diagnostics.Stopwatch.GetElapsedTime(_stateSince));
            _stateSince = System.Diagnostics.Stopwatch.GetTimestamp();
            Metrics.ActorsMeter.Transition(next);
        }
        if (publish && next != from) _events.Publish(new VmStateChanged(Name, from, next), toParent: true);
    }

    private void ToVcpu(int vcpuId, IVcpuRequest request)
    {
        var vcpus = _vm!.Vcpus;
        if (vcpuId < 0 || vcpuId >= vcpus.Count) Refuse(new VmError.UnknownVcpu(vcpuId, vcpus.Count));
        else vcpus[vcpuId].Forward(request);
    }

    private void Refuse(VmError error) => Sender.Tell(new VmRequestFailed(Name, error));
}
