using Actorvisor.Actors.Vm;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Actors.Registry;

/// <summary>
/// The VM registry of one node (kvm_lock protecting vm_list, locking.rst: the outermost lock, so VmActors are its
/// children and it never waits on them). A node is one `actorvisor node` daemon (one cluster member; there this
/// actor is the child "vms" of the host's hypervisor agent) or one ActorvisorRuntime of the CLI and tests.
/// Checks names and capacity, creates and supervises VmActors, lists and describes them, destroys them. It is
/// not on the path of other VM requests: whoever created a VM holds its VmActor (<see cref="VmCreated"/>) and
/// asks it directly; the registry follows the VM's state through the VmActor's events, and is the node's only keeper
/// of that state: an optional follower (the cluster node's agent) is told every change (<see cref="VmRegistryEntryChanged"/>)
/// and asks for the current line (<see cref="GetVmSummary"/>) instead of keeping a copy.
/// Supervision: a VmActor that throws is stopped (its PostStop tears the VM down) and recorded as Failed;
/// the node itself never fails because of a VM.
/// Restarts: a VM created with a <see cref="VmRestartPolicy"/> that ends on its own (see
/// <see cref="VmRestartPolicies.RestartsAfter"/>) is rebuilt from its spec on a new VmActor after a
/// <see cref="RestartBackoff"/> delay and started; its entry (name, reserved place) stays, its restart count goes up,
/// and the follower is told the new actor (<see cref="VmRestarted"/>).
/// </summary>
public sealed class VmRegistryActor : ReceiveActor, IWithTimers
{
    private readonly NodeCapacity _capacity;
    private readonly IActorRef? _follower;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Entry> _vms = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, Entry> _byActor = new();
    private readonly List<IActorRef> _shutdownRequesters = new();
    private readonly IActorRef _self;
    private readonly VmStateCounts _counts;
    private readonly RestartBackoff _backoff;
    private bool _shuttingDown;
    private int _destroyedInShutdown;
    private string? _lastCrash;
    private long _actorSerial;

    /// <summary>
    /// Props for a node with <paramref name="capacity"/>; <paramref name="follower"/>, if any, is told each
    /// <see cref="VmRegistryEntryChanged"/> and <see cref="VmRestarted"/>; <paramref name="counts"/>, if given, is kept up
    /// to date with how many VMs are in each state; <paramref name="backoff"/> (default <see cref="RestartBackoff.Default"/>)
    /// spaces the restarts of VMs with a restart policy.
    /// </summary>
    public static Props Props(NodeCapacity capacity, IActorRef? follower = null, VmStateCounts? counts = null, RestartBackoff? backoff = null) =>
        Akka.Actor.Props.Create(() => new VmRegistryActor(capacity, follower, counts, backoff));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public VmRegistryActor(NodeCapacity capacity, IActorRef? follower, VmStateCounts? counts, RestartBackoff? backoff)
    {
        _capacity = capacity;
        _follower = follower;
        _counts = counts ?? new VmStateCounts();
        _counts.Publish(Usage());
        _backoff = backoff ?? RestartBackoff.Default;
        _self = Self;
        Receive<CreateVm>(OnCreate);
        Receive<VmReady>(OnReady);
        Receive<VmCreateFailed>(OnCreateFailed);
        Receive<ListVms>(_ => Sender.Tell(new VmList(_vms.Values.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => e.Summary()).ToList())));
        Receive<GetVmSummary>(m => WithVm(m.Name, e => Sender.Tell(e.Summary())));
        Receive<DescribeVm>(m => WithVm(m.Name, e =>
        {
            if (e.Alive) e.Actor.Forward(GetVmDescription.Instance);
            else Sender.Tell(new VmDescription(e.Name, e.State, e.Spec.VcpuCount, e.Spec.MemoryBytes, e.Spec.Description, [], 0, e.Outcome));
        }));
        Receive<DestroyVm>(m => WithVm(m.Name, e => Destroy(e, Sender)));
        Receive<GetNodeUsage>(_ => Sender.Tell(Usage()));
        Receive<ShutdownNode>(_ => OnShutdown());
        Receive<VmStateChanged>(m => Update(m.VmName, e => Change(e, m.To, e.Outcome)));
        Receive<VmEnded>(m => Update(m.VmName, e =>
        {
            Change(e, m.Outcome.FinalState, m.Outcome);
            ScheduleRestartIfDue(e, m.Outcome);
        }));
        Receive<RestartDue>(OnRestartDue);
        Receive<HoldRestarts>(m =>
        {
            if (!_vms.TryGetValue(m.Name, out var e)) return;
            e.RestartsHeld = true;
            Timers.Cancel($"restart-{e.Name}");
        });
        // The answers of a VmActor the registry started after a restart: the state itself arrives as VmStateChanged.
        Receive<VmTransitioned>(_ => { });
        Receive<VmRequestFailed>(m => _log.Warning("VM {0}: the start after its restart was refused: {1}", m.VmName, m.Error));
        Receive<VmStopped>(m => Update(m.VmName, e =>
        {
            Change(e, e.State, e.Outcome ?? m.Outcome);
            if (e.Destroying) Context.Stop(e.Actor);
        }));
        Receive<Terminated>(OnTerminated);
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(Decider.From(e =>
        {
            _lastCrash = $"{e.GetType().Name}: {e.Message}";
            return Directive.Stop;
        }));

    private void OnCreate(CreateVm m)
    {
        if (_shuttingDown)
        {
            Refuse(m, new VmRegistryError.ShuttingDown());
            return;
        }
        if (m.Spec.Validate() is { } problem)
        {
            Refuse(m, new VmRegistryError.InvalidSpec(problem));
            return;
        }
        var spec = m.Spec;
        if (_vms.ContainsKey(spec.Name))
        {
            Refuse(m, new VmRegistryError.DuplicateVmName(spec.Name));
            return;
        }
        var usage = Usage();
        ulong freeVcpus = (ulong)Math.Max(0, _capacity.Vcpus - usage.UsedVcpus);
        if ((ulong)spec.VcpuCount > freeVcpus)
        {
            Refuse(m, new VmRegistryError.InsufficientCapacity("vcpus", (ulong)spec.VcpuCount, freeVcpus, (ulong)_capacity.Vcpus));
            return;
        }
        ulong freeMemory = _capacity.MemoryBytes - Math.Min(_capacity.MemoryBytes, usage.UsedMemoryBytes);
        if (spec.MemoryBytes > freeMemory)
        {
            Refuse(m, new VmRegistryError.InsufficientCapacity("memory bytes", spec.MemoryBytes, freeMemory, _capacity.MemoryBytes));
            return;
        }
        // The name reserves the resources from now on, while the VM is built on its own actor.
        // A unique actor name: the previous VM of this name may still be stopping.
        var actor = Context.Watch(Context.ActorOf(VmActor.Props(spec), $"vm-{spec.Name}-{++_actorSerial}"));
        var entry = new Entry(spec, actor, m.Restart) { CreateRequester = Sender, Restarts = m.Restarts };
        _vms.Add(spec.Name, entry);
        _byActor.Add(actor, entry);
        _counts.Add(entry.State);
        _counts.Publish(Usage());
    }

    // A refused spec is never built: what it holds open (its image file) is closed here, since no VM will own it.
    private void Refuse(CreateVm m, VmRegistryError error)
    {
        m.Spec.Holds?.Dispose();
        Sender.Tell(new NodeRequestFailed(error));
    }

    private void OnReady(VmReady m) => Update(m.VmName, e =>
    {
        e.Built = true;
        e.CreateRequester?.Tell(new VmCreated(e.Name, e.Actor));
        e.CreateRequester = null;
        if (!e.Restarting) return;
        e.Restarting = false;
        _follower?.Tell(new VmRestarted(e.Name, e.Actor, e.Restarts));
        // A stop asked for while it was being rebuilt: it is not started, and ends as stopped on request.
        e.Actor.Tell(e.RestartsHeld ? StopVm.Instance : StartVm.Instance);
    });

    private void OnCreateFailed(VmCreateFailed m) => Update(m.VmName, e =>
    {
        if (e.Restarting)
        {
            // A rebuild that failed leaves the entry Failed (its place kept) and tries again after the next backoff.
            e.Restarting = false;
            Retire(e);
            var outcome = new VmOutcome.Failed($"restart {e.Restarts} could not build the VM: {m.Reason}");
            _log.Error("VM {0}: {1}", e.Name, outcome.Reason);
            Change(e, VmState.Failed, outcome);
            ScheduleRestartIfDue(e, outcome);
            return;
        }
        e.CreateRequester?.Tell(new NodeRequestFailed(new VmRegistryError.CreateFailed(e.Name, m.Reason, m.Error)));
        e.CreateRequester = null;
        Remove(e);
        Context.Stop(e.Actor);
    });

    private void Destroy(Entry e, IActorRef requester)
    {
        if (!e.Alive)
        {
            // Its actor crashed earlier and already tore it down: only the name is left to free (and a restart to cancel).
            Timers.Cancel($"restart-{e.Name}");
            if (_vms.Remove(e.Name)) RemoveCounted(e.State);
            requester.Tell(new VmDestroyed(e.Name, e.Outcome ?? new VmOutcome.Failed("the VM actor stopped")));
            return;
        }
        e.DestroyRequesters.Add(requester);
        if (e.Destroying) return;
        e.Destroying = true;
        // The VmActor tears down (answering VmStopped), then the node stops it and frees the name on Terminated.
        e.Actor.Tell(StopVm.Instance);
    }

    private void OnShutdown()
    {
        _shuttingDown = true;
        _shutdownRequesters.Add(Sender);
        foreach (var e in _vms.Values.Where(e => e.Alive).ToList()) Destroy(e, ActorRefs.Nobody);
        CompleteShutdownIfDone();
    }

    private void OnTerminated(Terminated t)
    {
        if (!_byActor.TryGetValue(t.ActorRef, out var e)) return;
        if (!e.Destroying)
        {
            // The VmActor itself crashed; its PostStop has torn the VM down.
            var reason = $"the VM actor stopped unexpectedly ({_lastCrash ?? "no exception recorded"})";
            _log.Error("VM {0}: {1}", e.Name, reason);
            Change(e, VmState.Failed, new VmOutcome.Failed(reason));
            e.CreateRequester?.Tell(new NodeRequestFailed(new VmRegistryError.CreateFailed(e.Name, reason)));
            e.CreateRequester = null;
            e.Alive = false;
            _byActor.Remove(t.ActorRef);
            if (!e.Built && !e.Restarting && _vms.Remove(e.Name)) RemoveCounted(e.State);
            else
            {
                e.Restarting = false;
                ScheduleRestartIfDue(e, e.Outcome!);
            }
            CompleteShutdownIfDone();
            return;
        }
        if (_shuttingDown) _destroyedInShutdown++;
        Remove(e);
        var outcome = e.Outcome ?? new VmOutcome.StoppedOnRequest();
        foreach (var r in e.DestroyRequesters) r.Tell(new VmDestroyed(e.Name, outcome));
        CompleteShutdownIfDone();
    }

    // A VM that ended on its own is rebuilt after a backoff if its policy says so (never while it is being destroyed or
    // the node shuts down); the consecutive count, which sets the backoff, restarts from zero after a long enough run.
    private void ScheduleRestartIfDue(Entry e, VmOutcome outcome)
    {
        if (e.Destroying || _shuttingDown || e.Restarting || e.RestartsHeld || !e.Policy.RestartsAfter(outcome)) return;
        if (e.RunningSince is { } since && DateTime.UtcNow - since >= _backoff.ResetAfter) e.Consecutive = 0;
        e.RunningSince = null;
        var delay = _backoff.Delay(e.Consecutive);
        _log.Info("VM {0} ended ({1}); restart policy {2}: restarting in {3:0.###} s", e.Name, outcome, e.Policy.Name(), delay.TotalSeconds);
        Timers.StartSingleTimer($"restart-{e.Name}", new RestartDue(e.Name, e.Actor), delay);
    }

    private void OnRestartDue(RestartDue due)
    {
        if (!_vms.TryGetValue(due.Name, out var e) || !e.Actor.Equals(due.Ended) || e.Destroying || e.RestartsHeld || _shuttingDown) return;
        var usage = Usage();
        if (usage.UsedVcpus + e.Spec.VcpuCount > _capacity.Vcpus || usage.UsedMemoryBytes + e.Spec.MemoryBytes > _capacity.MemoryBytes)
        {
            _log.Warning("VM {0}: no capacity left to restart it now; trying again later", e.Name);
            e.Consecutive++;
            Timers.StartSingleTimer($"restart-{e.Name}", due, _backoff.Delay(e.Consecutive));
            return;
        }
        // The ended VmActor has torn its VM down; it goes, and a new one is built from the same spec under the same name.
        Retire(e);
        var actor = Context.Watch(Context.ActorOf(VmActor.Props(e.Spec), $"vm-{e.Name}-{++_actorSerial}"));
        e.Actor = actor;
        e.Alive = true;
        e.Built = false;
        e.Restarting = true;
        e.Restarts++;
        e.Consecutive++;
        _byActor.Add(actor, e);
        _log.Info("VM {0}: restart {1} (policy {2})", e.Name, e.Restarts, e.Policy.Name());
        Change(e, VmState.Created, null);
    }

    // Lets an entry's ended actor go without treating its stop as a crash.
    private void Retire(Entry e)
    {
        _byActor.Remove(e.Actor);
        Context.Unwatch(e.Actor);
        Context.Stop(e.Actor);
        e.Alive = false;
    }

    private void CompleteShutdownIfDone()
    {
        if (!_shuttingDown || _byActor.Count > 0) return;
        foreach (var r in _shutdownRequesters) r.Tell(new NodeShutDown(_destroyedInShutdown));
        _shutdownRequesters.Clear();
    }

    private void RemoveCounted(VmState state)
    {
        _counts.Remove(state);
        _counts.Publish(Usage());
    }

    private NodeUsage Usage()
    {
        var live = _vms.Values.Where(e => e.Alive && e.State.HoldsResources()).ToList();
        return new NodeUsage(_capacity, live.Sum(e => e.Spec.VcpuCount), live.Aggregate(0UL, (s, e) => s + e.Spec.MemoryBytes), _vms.Count);
    }

    // The one place an entry's state or outcome changes; the follower hears of it from here.
    private void Change(Entry e, VmState state, VmOutcome? outcome)
    {
        if (state == e.State && Equals(outcome, e.Outcome)) return;
        var from = e.State;
        if (state == VmState.Running && from != VmState.Paused) e.RunningSince = DateTime.UtcNow;
        e.State = state;
        if (state == VmState.Running) e.StartedAt ??= DateTimeOffset.UtcNow;
        _counts.Move(from, state);
        _counts.Publish(Usage());
        e.Outcome = outcome;
        _follower?.Tell(new VmRegistryEntryChanged(e.Summary(), from));
    }

    private void WithVm(string name, Action<Entry> action)
    {
        if (_vms.TryGetValue(name, out var e)) action(e);
        else Sender.Tell(new NodeRequestFailed(new VmRegistryError.UnknownVm(name)));
    }

    // Reports from a VmActor; ignored once its entry is gone (e.g. a late event after destroy).
    private void Update(string name, Action<Entry> action)
    {
        if (_vms.TryGetValue(name, out var e) && e.Alive && Sender.Equals(e.Actor)) action(e);
    }

    private void Remove(Entry e)
    {
        if (_vms.Remove(e.Name)) RemoveCounted(e.State);
        _byActor.Remove(e.Actor);
    }

    private sealed record RestartDue(string Name, IActorRef Ended);

    private sealed class Entry(VmActorSpec spec, IActorRef actor, VmRestartPolicy policy)
    {
        public VmActorSpec Spec { get; } = spec;
        public IActorRef Actor { get; set; } = actor;
        public VmRestartPolicy Policy { get; } = policy;
        public int Restarts { get; set; }
        public int Consecutive { get; set; }
        public DateTime? RunningSince { get; set; }
        public bool Restarting { get; set; }
        public bool RestartsHeld { get; set; }
        public string Name => Spec.Name;
        public VmState State { get; set; } = VmState.Created;
        public VmOutcome? Outcome { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public bool Built { get; set; }
        public bool Alive { get; set; } = true;
        public bool Destroying { get; set; }
        public IActorRef? CreateRequester { get; set; }
        public List<IActorRef> DestroyRequesters { get; } = new();

        public VmSummary Summary() => new(Name, State, Spec.VcpuCount, Spec.MemoryBytes, Outcome, Restarts, StartedAt);
    }
}
