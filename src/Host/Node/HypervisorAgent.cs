using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node.State;
using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's face to the cluster (/user/hypervisor): it translates between the cluster and the node's VM registry.
/// Naming: a <em>node</em> is one `actorvisor node` daemon, which is one member of the Akka cluster; each node runs one
/// agent, whose child <see cref="VmRegistryActor"/> ("vms") is the node's VM registry and the only keeper of its VMs'
/// state (names, capacity, supervision of the VmActors, each VM's state and outcome). The agent follows it
/// (<see cref="VmRegistryEntryChanged"/>) and keeps per VM only what does not change (<see cref="HostedVm"/>: the
/// spec, the VmActor, the console watcher) and the VM's event subscribers: it builds and destroys VMs the directory
/// asks for, carries out VM requests the API gateways send here (straight to the VmActor, no detour through the
/// registry), streams each VM's events to its subscribers, reports each change to the directory (which keeps only
/// placement), answers the directory's <see cref="ReportNodeVms"/> for `vm list` and `cluster status` from the
/// registry, announces the node (capacity, accelerator, VMs) to it, and keeps the directory's latest snapshot, for
/// whichever node hosts the directory next and for this node's API gateway (published on the event stream), which
/// finds a VM's node in it. Each wait for a VM or the registry ends a little before the request's deadline
/// (<see cref="RequestDeadline"/>), answered with <see cref="ApiErrorCode.Timeout"/> naming this node.
/// On <see cref="ShutdownAgent"/> (CoordinatedShutdown) it destroys every VM, then announces an empty node so the
/// directory forgets them rather than reporting them Lost.
/// Desired state: with a <see cref="NodeStateStore"/>, its child <see cref="NodeStateActor"/> ("state", beside the registry)
/// records each VM's definition and lifecycle intent when a request changes it (create, start, pause, resume, stop,
/// destroy; the reply is sent once it is on disk), the intent Stopped when a VM ends for good on its own, and the restart
/// count; on start the agent recreates the stored VMs per their restart policy (<see cref="RecoveryPlan"/>), then announces them.
/// Supervision: watchers are stopped if they throw; the VmRegistryActor supervises the VmActors itself.
/// Live migration, both ends (HypervisorAgentMigrations.cs): the node's <see cref="Actorvisor.Actors.Migration.MigrationReceiverActor"/>
/// ("migrations") receives VMs on a TCP stream of its own (<see cref="MigrationEndpoint"/>).
/// Its parts: <see cref="AgentEventSubscribers"/> (the VMs' event subscribers), <see cref="AgentReplies"/> and
/// <see cref="AgentErrors"/> (the translation of the registry's and VmActors' answers into the API's).
/// </summary>
public sealed partial class HypervisorAgent : ReceiveActor
{
    /// <summary>The agent's name under /user.</summary>
    public const string Name = "hypervisor";

    /// <summary>How long an announcement asked for by the directory waits for the registry's list of VMs.</summary>
    public static readonly TimeSpan AnnouncementListTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The agent's path on every hypervisor.</summary>
    public const string Path = "/user/" + Name;

    private readonly NodeInfo _info;
    private readonly IAccelerator _accelerator;
    private readonly VmImageResolver _images;
    private readonly VmSnapshotDirectories? _snapshots;
    private readonly IActorRef _directory;
    private readonly IActorRef _registry;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, HostedVm> _vms = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _byActor = new();
    private readonly AgentEventSubscribers _subscribers;
    private readonly List<IActorRef> _shutdownRequesters = new();
    private readonly List<string> _supersededSaves = new();
    private readonly IActorRef? _state;
    private readonly string? _statePath;
    private readonly IReadOnlyList<StoredVm> _stored;
    private int _recovering;
    private DirectoryReplica? _replica;
    private long _serial;
    private bool _shuttingDown;

    /// <summary>How long the managed saves of a node that stops gracefully may take together, before its VMs are torn down.</summary>
    public static readonly TimeSpan ManagedSaveTimeout = TimeSpan.FromSeconds(180);

    /// <summary>How long the recreation of one stored VM (its build, then its start) may take when the node starts.</summary>
    public static readonly TimeSpan RecoveryStepTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Props for the agent of a node described by <paramref name="info"/>; <paramref name="stateCounts"/>, if given, is
    /// kept by the node's registry (how many VMs are in each state, for metrics); <paramref name="state"/>, if given, is
    /// the node's desired state (written from now on) and <paramref name="stored"/> the VMs read from it, to recreate.
    /// </summary>
    public static Props Props(NodeInfo info, IAccelerator accelerator, VmImageResolver images, IActorRef directory, VmStateCounts? stateCounts = null,
        NodeStateStore? state = null, IReadOnlyList<StoredVm>? stored = null, VmSnapshotDirectories? snapshots = null, MigrationEndpoint? migrations = null) =>
        Akka.Actor.Props.Create(() => new HypervisorAgent(info, accelerator, images, directory, stateCounts, state, stored, snapshots, migrations));

    /// <summary>Use <see cref="Props"/>.</summary>
    public HypervisorAgent(NodeInfo info, IAccelerator accelerator, VmImageResolver images, IActorRef directory, VmStateCounts? stateCounts,
        NodeStateStore? state, IReadOnlyList<StoredVm>? stored, VmSnapshotDirectories? snapshots = null, MigrationEndpoint? migrations = null)
    {
        _snapshots = snapshots;
        _info = info;
        _accelerator = accelerator;
        _images = images;
        _directory = directory;
        _subscribers = new AgentEventSubscribers(Context, _vms);
        _registry = Context.ActorOf(VmRegistryActor.Props(new NodeCapacity(info.Vcpus, info.MemoryBytes), Self, stateCounts), "vms");
        _state = state is null ? null : Context.ActorOf(NodeStateActor.Props(state), "state");
        _statePath = state?.Path;
        _stored = state is null ? [] : stored ?? [];

        Receive<AnnounceNode>(_ => ListThen(Sender, AnnouncementListTimeout, (vms, _, _) => new NodeAnnouncement(_info, Self, vms, _replica?.ToSnapshot())));
        Receive<ReportNodeVms>(r => ListThen(Sender, RequestDeadline.Inner(TimeSpan.FromMilliseconds(r.DeadlineMs)),
            (vms, usedVcpus, usedMemory) => new NodeVmsReport(_info.Name, vms, usedVcpus, usedMemory)));
        Receive<RegistryListed>(OnListed);
        Receive<AnnouncementAccepted>(_ => { });
        Receive<DirectorySnapshot>(snapshot =>
        {
            if (_replica is null || snapshot.Taken >= _replica.Taken) Hold(DirectoryReplica.Of(snapshot));
            Sender.Tell(new SnapshotStored(snapshot.Taken, snapshot.Sequence));
        });
        Receive<DirectorySnapshotDelta>(OnSnapshotDelta);
        Receive<CreateOnNode>(OnCreate);
        Receive<RegistryCreated>(OnCreated);
        Receive<DestroyOnNode>(OnDestroy);
        Receive<RegistryDestroyed>(OnDestroyed);
        Receive<VmRegistryEntryChanged>(OnEntryChanged);
        Receive<VmRestarted>(OnRestarted);
        Receive<RegistryRecreated>(OnRecreated);
        Receive<RecoveredVmStarted>(OnRecoveredStarted);
        // Answers to the writes the agent makes on its own (intent after a VM ended, restart counts): the writer logs failures.
        Receive<NodeStateSaved>(_ => { });
        Receive<Status.Failure>(_ => { });
        Receive<VmSummary>(OnSummary);
        Receive<NodeRequestFailed>(OnSummaryFailed);
        Receive<Terminated>(t =>
        {
            if (_byActor.Remove(t.ActorRef, out var name) && _vms.TryGetValue(name, out var vm))
            {
                vm.ActorAlive = false;
                // A copy that migrated away and whose actor stopped before its console hand-off (it crashed in its
                // teardown) never hands off: its migration completes without the console backlog.
                if (vm.MigratedAway && vm.PendingHandOff is null) OnConsoleHandOff(new ConsoleHandOff(name, [], []));
            }
            else _subscribers.Stopped(t.ActorRef);
        });
        Receive<SubscribeVmEventsRequest>(OnSubscribeEvents);
        Receive<UnsubscribeVmEventsRequest>(OnUnsubscribeEvents);
        Receive<StartVmRequest>(r => Transition(r, r.Name, StartVm.Instance, "start"));
        Receive<PauseVmRequest>(r => Transition(r, r.Name, PauseVm.Instance, "pause"));
        Receive<ResumeVmRequest>(r => Transition(r, r.Name, ResumeVm.Instance, "resume"));
        Receive<StopVmRequest>(r => Transition(r, r.Name, StopVm.Instance, "stop"));
        Receive<DescribeVmRequest>(OnDescribe);
        Receive<SubscribeConsoleRequest>(r =>
        {
            if (_vms.TryGetValue(r.Name, out var vm)) vm.Watcher.Forward(r);
            else Sender.Tell(NotHere(r.Name));
        });
        Receive<SendConsoleInputRequest>(OnConsoleInput);
        Receive<SnapshotVmRequest>(OnSnapshot);
        Receive<FindSnapshot>(f => Sender.Tell(new SnapshotHeld(_info.Name, f.Snapshot, _snapshots?.ForRead(f.Snapshot, "from").Error is null)));
        Receive<ShutdownAgent>(_ => OnShutdown());
        Receive<ManagedSaveListed>(OnManagedSaveListed);
        Receive<ManagedSavesDone>(OnManagedSavesDone);
        Receive<NodeShutDown>(OnNodeShutDown);
        ReceiveMigrations(migrations ?? MigrationEndpoint.Loopback);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _directory.Tell(EmptyAnnouncement());
        Recover();
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    // An announcement made without asking the registry: only when the node holds no VM (starting, or all destroyed).
    private NodeAnnouncement EmptyAnnouncement() => new(_info, Self, [], _replica?.ToSnapshot());

    private void Hold(DirectoryReplica replica)
    {
        _replica = replica;
        Context.System.EventStream.Publish(new DirectorySnapshotReceived(replica));
    }

    // A delta that follows the copy held moves it forward; one that does not (no copy yet, one missed, or a new
    // directory) is answered with NeedsWhole, unless it is older than the copy held (a late one, or an old directory's).
    private void OnSnapshotDelta(DirectorySnapshotDelta delta)
    {
        if (_replica?.Apply(delta) is { } next)
        {
            Hold(next);
            Sender.Tell(new SnapshotStored(delta.Taken, delta.Sequence));
        }
        else if (_replica is not null && (_replica.Covers(delta) || (delta.Epoch != _replica.Epoch && delta.Taken < _replica.Taken)))
            Sender.Tell(new SnapshotStored(delta.Taken, delta.Sequence));
        else
            Sender.Tell(new SnapshotStored(delta.Taken, delta.Sequence, NeedsWhole: true));
    }

    // The VMs' lines come from the registry, their keeper; the answer is made when they arrive (none: no answer, the asker times out).
    private void ListThen(IActorRef replyTo, TimeSpan wait, Func<IReadOnlyList<VmInfo>, int, ulong, object> answer) =>
        _registry.Ask<VmList>(ListVms.Instance, wait).PipeTo(Self, success: list => new RegistryListed(list, replyTo, answer), failure: _ => new RegistryListed(null, replyTo, answer));

    private void OnListed(RegistryListed l)
    {
        if (l.List is null)
        {
            _log.Warning("The VM registry did not list the VMs in time; {0} gets no answer", l.ReplyTo);
            return;
        }
        var (vms, usedVcpus, usedMemory) = AgentReplies.OfList(l.List, _vms, _info.Name);
        l.ReplyTo.Tell(l.Answer(vms, usedVcpus, usedMemory));
    }

    private VmInfo InfoOf(HostedVm vm, VmSummary line) => AgentReplies.OfLine(vm, line, _info.Name);

    private void OnCreate(CreateOnNode c)
    {
        var name = c.Spec.Name;
        if (_shuttingDown)
        {
            Sender.Tell(new CreateOnNodeResult(name, null, new ApiErrorReply(ApiErrorCode.NodeUnavailable, $"node {_info.Name} is shutting down")));
            return;
        }
        var apiSpec = c.Spec;
        var (spec, error, image) = apiSpec.RestoreFrom is null ? Resolved(_images.Resolve(apiSpec, _accelerator)) : ResolveRestore(apiSpec);
        if (error is not null)
        {
            Sender.Tell(new CreateOnNodeResult(name, null, error));
            return;
        }
        // A restore's size is the snapshot's, and what runs in it the snapshot's image: listed and reserved as such.
        if (apiSpec.RestoreFrom is not null) apiSpec = apiSpec with { Vcpus = spec!.VcpuCount, MemoryBytes = spec.MemoryBytes, Image = image! };
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(TimeSpan.FromMilliseconds(c.DeadlineMs));
        var policy = VmRestartPolicies.TryParse(c.Spec.Restart, out var p) ? p : VmRestartPolicy.Never;
        _registry.Ask(new CreateVm(spec!, policy), wait).PipeTo(Self,
            success: reply => new RegistryCreated(apiSpec, replyTo, reply, wait),
            failure: e => new RegistryCreated(apiSpec, replyTo, e, wait));
    }

    private static (VmActorSpec? Spec, ApiErrorReply? Error, string? Image) Resolved((VmActorSpec? Spec, ApiErrorReply? Error) r) => (r.Spec, r.Error, null);

    // The spec of a VM restored from snapshot spec.RestoreFrom of this node's snapshot directories (checked here: refused
    // before anything is built; its disks confined to the image directories), and the image that ran in it.
    private (VmActorSpec? Spec, ApiErrorReply? Error, string? Image) ResolveRestore(ApiVmSpec spec)
    {
        if (_snapshots is null) return (null, ApiErrorReply.Invalid("from", $"node {_info.Name} keeps no snapshots"), null);
        var (path, manifest, error) = _snapshots.ForRead(spec.RestoreFrom!, "from");
        if (error is not null) return (null, error, null);
        var (disks, diskError) = _images.SnapshotDisks(manifest!, spec.RestoreFrom!, "from");
        if (diskError is not null) return (null, diskError, null);
        var mode = spec.RestoreMode switch
        {
            "eager" => RestoreMode.Eager,
            "mmap" => RestoreMode.Mmap,
            _ => RestoreMode.Lazy,
        };
        try
        {
            var restored = MachineVm.RestoreSpec(spec.Name, _accelerator, path!, mode, vcpuThreads: _images.CpuLimitGroup(spec.Name, spec.CpuLimit),
                diskPlacement: disks);
            if (spec.CpuLimit is { } limit && limit > restored.VcpuCount)
                return (null, ApiErrorReply.Invalid("cpuLimit", $"{limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} is more than the snapshot's {restored.VcpuCount} vCPU(s) (CPUs: at most one per vCPU)"), null);
            return (restored, null, manifest!.Image);
        }
        catch (SnapshotException e)
        {
            return (null, ApiErrorReply.Invalid("from", e.Message), null);
        }
    }

    private void OnSnapshot(SnapshotVmRequest r)
    {
        if (!_vms.TryGetValue(r.Name, out var vm))
        {
            Sender.Tell(NotHere(r.Name));
            return;
        }
        if (!vm.ActorAlive)
        {
            Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{r.Name}': its actor stopped (describe it for the outcome); it cannot be snapshotted", "name"));
            return;
        }
        if (_snapshots is null)
        {
            Sender.Tell(ApiErrorReply.Invalid("to", $"node {_info.Name} keeps no snapshots"));
            return;
        }
        var (path, error) = _snapshots.ForWrite(r.To, "to");
        if (error is not null)
        {
            Sender.Tell(error);
            return;
        }
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        var nodeName = _info.Name;
        vm.Vm.Ask(new SnapshotVm(path!, r.Resume), wait).PipeTo(Sender,
            success: reply => reply switch
            {
                VmSnapshotted s => new SnapshotReply(r.Name, r.To, nodeName, s.Directory, s.MemoryBytes, s.BytesOnDisk, (long)s.Took.TotalMilliseconds, s.Resumed),
                VmRequestFailed failed => AgentErrors.Of(r.Name, failed.Error),
                _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{r.Name}' answered the snapshot with {reply.GetType().Name}"),
            },
            failure: e => AgentErrors.VmDidNotAnswer(r.Name, nodeName, "snapshot", wait, e));
    }

    private void OnCreated(RegistryCreated c)
    {
        var name = c.Spec.Name;
        if (c.Reply is not VmCreated created)
        {
            c.ReplyTo.Tell(new CreateOnNodeResult(name, null, AgentErrors.CreateFailed(c.Reply, name, _info.Name, c.Wait)));
            return;
        }
        var hosted = Host(c.Spec, created.Vm);
        var record = hosted.Info(_info.Name, VmStatus.Created, null, 0);
        _log.Info("Created VM {0} ({1}, {2} vCPUs, {3} MiB, restart {4})", name, c.Spec.Image, c.Spec.Vcpus, c.Spec.MemoryBytes >> 20, hosted.Policy.Name());
        // A restored VM is stored as what it became, a VM of the snapshot's image and size: its snapshot is in its past,
        // and the node never brings it back to it (docs/architecture.md, "Managed save").
        var definition = c.Spec with { RestoreFrom = null, RestoreMode = null };
        AfterSaved(new SaveVmDefinition(definition), c.Wait, new CreateOnNodeResult(name, record, null)).PipeTo(c.ReplyTo);
    }

    private HostedVm Host(ApiVmSpec spec, IActorRef vm) =>
        Host(spec, vm, Context.ActorOf(VmWatcher.Props(spec.Name, vm, PolicyOf(spec)), $"watch-{spec.Name}-{++_serial}"));

    private static VmRestartPolicy PolicyOf(ApiVmSpec spec) => VmRestartPolicies.TryParse(spec.Restart, out var p) ? p : VmRestartPolicy.Never;

    private HostedVm Host(ApiVmSpec spec, IActorRef vm, IActorRef watcher)
    {
        var hosted = new HostedVm(spec, vm, watcher);
        _vms[spec.Name] = hosted;
        _byActor[Context.Watch(vm)] = spec.Name;
        return hosted;
    }

    // The reply to a request that changed a VM's desired state goes once the change is on disk; a write that fails or
    // does not finish in time is logged (by the writer, naming the file) and the VM's own answer still goes.
    private Task<object> AfterSaved(INodeStateWrite write, TimeSpan wait, object reply)
    {
        if (_state is null) return Task.FromResult(reply);
        var log = _log;
        return _state.Ask<NodeStateSaved>(write, wait).ContinueWith(t =>
        {
            if (t.Exception?.InnerException is AskTimeoutException) log.Error("VM {0}: its desired state was not written within {1:0.#} s", write.Name, wait.TotalSeconds);
            return reply;
        }, TaskScheduler.Default);
    }

    private void OnDestroy(DestroyOnNode d)
    {
        if (!_vms.ContainsKey(d.Name))
        {
            Sender.Tell(new DestroyOnNodeResult(d.Name, null, NotHere(d.Name)));
            return;
        }
        var replyTo = Sender;
        var wait = RequestDeadline.Inner(TimeSpan.FromMilliseconds(d.DeadlineMs));
        _registry.Ask(new DestroyVm(d.Name), wait).PipeTo(Self,
            success: reply => new RegistryDestroyed(d.Name, replyTo, reply, wait),
            failure: e => new RegistryDestroyed(d.Name, replyTo, e, wait));
    }

    private void OnDestroyed(RegistryDestroyed d)
    {
        if (d.Reply is not VmDestroyed destroyed)
        {
            if (d.Reply is NodeRequestFailed { Error: VmRegistryError.UnknownVm })
            {
                Forget(d.Name);
                _state?.Tell(new ForgetVmDefinition(d.Name));
            }
            d.ReplyTo.Tell(new DestroyOnNodeResult(d.Name, null, AgentErrors.DestroyFailed(d.Reply, d.Name, _info.Name, d.Wait)));
            return;
        }
        var (status, outcome) = (VmStatuses.Of(destroyed.Outcome.FinalState), destroyed.Outcome.ToString());
        var record = _vms.GetValueOrDefault(d.Name)?.Info(_info.Name, status, outcome) ?? new VmInfo(d.Name, _info.Name, status, 0, 0, "", outcome);
        if (_vms.GetValueOrDefault(d.Name)?.ManagedSave is { } save) DeleteSnapshot(save, d.Name);
        Forget(d.Name);
        AfterSaved(new ForgetVmDefinition(d.Name), d.Wait, new DestroyOnNodeResult(d.Name, record, null)).PipeTo(d.ReplyTo);
    }

    private void Forget(string name)
    {
        if (!_vms.Remove(name, out var vm)) return;
        _byActor.Remove(vm.Vm);
        Context.Unwatch(vm.Vm);
        Context.Stop(vm.Watcher);
        _subscribers.EndAll(name, vm, NotHere(name));
    }

    // The registry reports each change of a VM's line: the directory and the event subscribers hear of it from here.
    private void OnEntryChanged(VmRegistryEntryChanged m)
    {
        // A VM that migrated away is the target's now: its copy here ends unseen (the hand-off forgets it).
        if (!_vms.TryGetValue(m.Vm.Name, out var vm) || vm.MigratedAway) return;
        var record = InfoOf(vm, m.Vm);
        var before = VmStatuses.Of(m.From);
        _directory.Tell(new VmRecordChanged(record, before));
        if (VmNoticeRule.NoticeDetail(before, record) is { } detail) _subscribers.Notify(vm, record, detail);
        // A VM that ended on its own and that its policy does not restart has ended for good: its intent is Stopped
        // (a stop asked for wrote that already; a node shutting down leaves the intent as it was, to come back).
        if (m.Vm.Outcome is { } ended && ended is not VmOutcome.StoppedOnRequest && m.Vm.State.IsTerminal() && !vm.Policy.RestartsAfter(ended))
        {
            _state?.Tell(new SaveVmIntent(m.Vm.Name, VmIntent.Stopped));
            DropManagedSave(vm);
        }
    }

    // The registry rebuilt the VM per its restart policy: requests go to the new VmActor from now on, and the console
    // watcher follows it (its subscribers keep their stream).
    private void OnRestarted(VmRestarted m)
    {
        if (!_vms.TryGetValue(m.Name, out var vm)) return;
        _byActor.Remove(vm.Vm);
        Context.Unwatch(vm.Vm);
        vm.Vm = m.Vm;
        vm.Watcher.Tell(new VmWatcher.Follow(m.Vm));
        vm.ActorAlive = true;
        _byActor[Context.Watch(m.Vm)] = m.Name;
        _state?.Tell(new SaveVmRestarts(m.Name, m.Restarts));
    }

    // Recreates the VMs of the node's stored state (each per its restart policy); announces the node once all are back.
    private void Recover()
    {
        _recovering = _stored.Count;
        if (_recovering == 0) return;
        _log.Info("Recovering {0} VM(s) from {1}", _recovering, _statePath);
        foreach (var stored in _stored)
        {
            var plan = RecoveryPlan.For(stored);
            var (spec, error, _) = plan.RestoreFrom is { } save
                ? ResolveRestore(stored.Spec with { RestoreFrom = save, RestoreMode = "lazy" })
                : Resolved(_images.Resolve(stored.Spec, _accelerator));
            if (error is not null && plan.RestoreFrom is not null)
            {
                _log.Error("VM {0} of {1}: its managed save {2} cannot be restored ({3}); it is built from its definition instead", stored.Spec.Name, _statePath,
                    plan.RestoreFrom, error.Message);
                plan = RecoveryPlan.For(stored with { ManagedSave = null });
                (spec, error, _) = Resolved(_images.Resolve(stored.Spec, _accelerator));
            }
            if (error is not null)
            {
                _log.Error("VM {0} of {1} cannot be recreated ({2}); its definition is kept for when it can", stored.Spec.Name, _statePath, error.Message);
                RecoveryStepDone();
                continue;
            }
            _registry.Ask(new CreateVm(spec!, plan.Policy, stored.Restarts), RecoveryStepTimeout).PipeTo(Self,
                success: reply => new RegistryRecreated(stored, plan, reply),
                failure: e => new RegistryRecreated(stored, plan, e));
        }
    }

    private void OnRecreated(RegistryRecreated r)
    {
        var name = r.Stored.Spec.Name;
        if (r.Reply is not VmCreated created)
        {
            _log.Error("VM {0} of {1} could not be recreated: {2}", name, _statePath, r.Reply is NodeRequestFailed f ? f.Error.Message : r.Reply);
            RecoveryStepDone();
            return;
        }
        Host(r.Stored.Spec, created.Vm).ManagedSave = r.Stored.ManagedSave;
        var plan = r.Plan;
        _log.Info("Recovered VM {0} (restart {1}, intent {2}, {3} restart(s)): {4}", name, plan.Policy.Name(), r.Stored.Intent.ToString().ToLowerInvariant(),
            r.Stored.Restarts, plan.Describe());
        if (!plan.Start)
        {
            RecoveryStepDone();
            return;
        }
        var vmActor = created.Vm;
        async Task<object> StartThenPause()
        {
            var answer = await vmActor.Ask(StartVm.Instance, RecoveryStepTimeout).ConfigureAwait(false);
            if (answer is VmTransitioned && plan.Pause) answer = await vmActor.Ask(PauseVm.Instance, RecoveryStepTimeout).ConfigureAwait(false);
            return answer;
        }
        StartThenPause().PipeTo(Self, success: a => new RecoveredVmStarted(name, a), failure: e => new RecoveredVmStarted(name, e));
    }

    private void OnRecoveredStarted(RecoveredVmStarted m)
    {
        if (m.Reply is not VmTransitioned) _log.Warning("VM {0}: recovered, but its start answered {1}", m.Name, m.Reply is VmRequestFailed f ? f.Error : m.Reply);
        RecoveryStepDone();
    }

    private void RecoveryStepDone()
    {
        if (--_recovering > 0) return;
        _log.Info("Recovered the VMs of {0}: {1} of {2} are back", _statePath, _vms.Count, _stored.Count);
        ListThen(_directory, AnnouncementListTimeout, (vms, _, _) => new NodeAnnouncement(_info, Self, vms, _replica?.ToSnapshot()));
    }

    // The VM's events come from its node; the directory reports the VM Lost if this node goes (the gateway asked it to).
    // The current state comes from the registry, in order with the changes it reports after it.
    private void OnSubscribeEvents(SubscribeVmEventsRequest r)
    {
        if (r.Name is null || !_vms.TryGetValue(r.Name, out var vm))
        {
            Sender.Tell(r.Name is null ? ApiErrorReply.Invalid("name", "the events of every VM come from the VM directory, not from one node") : NotHere(r.Name));
            return;
        }
        if (_subscribers.Hold(vm, r.Subscriber, Sender)) _registry.Tell(new GetVmSummary(r.Name));
    }

    private void OnSummary(VmSummary line)
    {
        if (_vms.TryGetValue(line.Name, out var vm)) _subscribers.Start(vm, InfoOf(vm, line));
    }

    private void OnSummaryFailed(NodeRequestFailed failed)
    {
        if (failed.Error is not VmRegistryError.UnknownVm unknown || !_vms.TryGetValue(unknown.Name, out var vm)) return;
        _subscribers.Refuse(vm, NotHere(unknown.Name));
    }

    private void OnUnsubscribeEvents(UnsubscribeVmEventsRequest r)
    {
        if (r.Name is null || !_vms.TryGetValue(r.Name, out var vm))
        {
            Sender.Tell(r.Name is null ? ApiErrorReply.Invalid("name", "the events of every VM come from the VM directory, not from one node") : NotHere(r.Name));
            return;
        }
        _subscribers.Remove(vm, [r.Subscriber]);
        Sender.Tell(new SubscribedReply(r.Name, "events", false));
    }

    // A lifecycle request goes to the VmActor itself; it answers within the request's deadline or the node says it did not.
    private void Transition(ApiRequest request, string name, object vmRequest, string what)
    {
        if (!_vms.TryGetValue(name, out var vm))
        {
            Sender.Tell(NotHere(name));
            return;
        }
        if (!vm.ActorAlive)
        {
            Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{name}': its actor stopped (describe it for the outcome); destroy it to free the name", "name"));
            return;
        }
        var wait = RequestDeadline.Inner(RequestDeadline.Of(request));
        var nodeName = _info.Name;
        var vmActor = vm.Vm;
        // A stop ends the VM for good: the registry must not restart it (it may be waiting to, if the VM just failed).
        if (vmRequest is StopVm)
        {
            _registry.Tell(new HoldRestarts(name));
            DropManagedSave(vm);
        }
        VmIntent intent = vmRequest switch
        {
            PauseVm => VmIntent.Paused,
            StopVm => VmIntent.Stopped,
            _ => VmIntent.Running,
        };
        async Task<object> AnswerOnceSaved()
        {
            object reply;
            try
            {
                reply = AgentReplies.OfTransition(await vmActor.Ask(vmRequest, wait).ConfigureAwait(false), vm, nodeName, name);
            }
            catch (Exception e)
            {
                return AgentErrors.VmDidNotAnswer(name, nodeName, what, wait, e);
            }
            return reply is VmReply ? await AfterSaved(new SaveVmIntent(name, intent), wait, reply).ConfigureAwait(false) : reply;
        }
        AnswerOnceSaved().PipeTo(Sender);
    }

    private void OnDescribe(DescribeVmRequest r)
    {
        if (!_vms.TryGetValue(r.Name, out var vm))
        {
            Sender.Tell(NotHere(r.Name));
            return;
        }
        var address = _info.Address;
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        var nodeName = _info.Name;
        var registry = _registry;
        // A VM whose actor stopped is described by the registry (its outcome); a live one by its VmActor. The restart
        // count is the registry's.
        var (target, question) = vm.ActorAlive ? (vm.Vm, (object)GetVmDescription.Instance) : (_registry, new DescribeVm(r.Name));
        bool alive = vm.ActorAlive;
        async Task<object> Describe()
        {
            object reply;
            try
            {
                reply = AgentReplies.OfDescription(await target.Ask(question, wait).ConfigureAwait(false), vm, alive, nodeName, address, r.Name);
            }
            catch (Exception e)
            {
                return AgentErrors.VmDidNotAnswer(r.Name, nodeName, "describe", wait, e);
            }
            if (reply is not VmDescriptionReply described) return reply;
            var line = await registry.Ask(new GetVmSummary(r.Name), wait).ConfigureAwait(false);
            return line is VmSummary summary ? described with { Vm = described.Vm with { Restarts = summary.Restarts } } : described;
        }
        Describe().PipeTo(Sender, failure: e => AgentErrors.VmDidNotAnswer(r.Name, nodeName, "describe", wait, e));
    }

    private void OnConsoleInput(SendConsoleInputRequest r)
    {
        if (!_vms.TryGetValue(r.Name, out var vm))
        {
            Sender.Tell(NotHere(r.Name));
            return;
        }
        if (!vm.ActorAlive)
        {
            Sender.Tell(new ApiErrorReply(ApiErrorCode.InvalidState, $"VM '{r.Name}': its actor stopped (describe it for the outcome); its console takes no input", "name"));
            return;
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(r.Text);
        var wait = RequestDeadline.Inner(RequestDeadline.Of(r));
        var nodeName = _info.Name;
        // A VM that has ended (or is stopping) refuses with NotAccepting: the API's InvalidState naming the VM.
        vm.Vm.Ask(new SendConsoleInput(bytes), wait).PipeTo(Sender,
            success: reply => reply switch
            {
                ConsoleInputAccepted accepted => new ConsoleInputReply(r.Name, bytes.Length, accepted.Bytes),
                VmRequestFailed failed => AgentErrors.Of(r.Name, failed.Error),
                _ => new ApiErrorReply(ApiErrorCode.OperationFailed, $"VM '{r.Name}' answered the console input with {reply.GetType().Name}"),
            },
            failure: e => AgentErrors.VmDidNotAnswer(r.Name, nodeName, "console input", wait, e));
    }

    // A stop tears the VMs down and leaves their stored intent as it was, so the node brings them back when it starts
    // again; first, each live VM with snapshot-on-stop gets its managed save (the registry says which are live).
    private void OnShutdown()
    {
        _shutdownRequesters.Add(Sender);
        if (_shuttingDown) return;
        _shuttingDown = true;
        if (_snapshots is null || _state is null || !_vms.Values.Any(v => v.Spec.SnapshotOnStop == true && v.ActorAlive))
        {
            DestroyAll();
            return;
        }
        _registry.Ask<VmList>(ListVms.Instance, AnnouncementListTimeout).PipeTo(Self, success: l => new ManagedSaveListed(l), failure: _ => new ManagedSaveListed(null));
    }

    private void OnManagedSaveListed(ManagedSaveListed m)
    {
        var deadline = DateTimeOffset.UtcNow + ManagedSaveTimeout;
        var saves = new List<Task<ManagedSaveResult>>();
        foreach (var line in m.List?.Vms ?? [])
        {
            if (line.State is not (VmState.Running or VmState.Paused) || !_vms.TryGetValue(line.Name, out var vm) || vm.Spec.SnapshotOnStop != true) continue;
            var snapshot = ManagedSave.NameFor(line.Name, DateTimeOffset.UtcNow);
            var (path, error) = _snapshots!.ForWrite(snapshot, "to");
            if (error is not null)
            {
                _log.Error("VM {0}: no managed save ({1})", line.Name, error.Message);
                continue;
            }
            var (name, previous) = (line.Name, vm.ManagedSave);
            saves.Add(ManagedSave.RunAsync(name, vm.Vm, line.State, snapshot, path!, _state!, deadline)
                .ContinueWith(t => new ManagedSaveResult(name, snapshot, previous, t.Result), TaskScheduler.Default));
        }
        if (m.List is null) _log.Error("The VM registry did not list the VMs in time: no managed saves");
        _log.Info("Shutting down: managed save of {0} VM(s)", saves.Count);
        Task.WhenAll(saves).PipeTo(Self, success: results => new ManagedSavesDone(results));
    }

    private void OnManagedSavesDone(ManagedSavesDone m)
    {
        foreach (var r in m.Results)
        {
            if (r.Problem is not null)
            {
                _log.Error("VM {0}: its managed save {1} failed ({2}); it comes back from {3}", r.Vm, r.Snapshot, r.Problem,
                    r.Previous is null ? "its definition (a cold boot)" : $"its previous managed save {r.Previous}");
                continue;
            }
            _log.Info("VM {0}: managed save {1} written and recorded", r.Vm, r.Snapshot);
            if (_vms.TryGetValue(r.Vm, out var vm)) vm.ManagedSave = r.Snapshot;
            if (r.Previous is not null) _supersededSaves.Add(r.Previous);
        }
        DestroyAll();
    }

    private void DestroyAll()
    {
        _log.Info("Shutting down: destroying {0} VM(s)", _vms.Count);
        _registry.Tell(ShutdownNode.Instance);
    }

    // A VM whose intent is now stopped has no state to continue from: its managed save is forgotten and deleted.
    private void DropManagedSave(HostedVm vm)
    {
        if (vm.ManagedSave is not { } save) return;
        vm.ManagedSave = null;
        _state?.Tell(new SaveVmManagedSave(vm.Spec.Name, null));
        DeleteSnapshot(save, vm.Spec.Name);
    }

    private void DeleteSnapshot(string snapshot, string vm)
    {
        try
        {
            _snapshots?.Delete(snapshot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("VM {0}: its managed save {1} could not be deleted: {2}", vm, snapshot, e.Message);
        }
    }

    private void OnNodeShutDown(NodeShutDown done)
    {
        foreach (var name in _vms.Keys.ToList()) Forget(name);
        _log.Info("Destroyed {0} VM(s)", done.VmsDestroyed);
        // The VMs that read them are gone: the managed saves replaced by newer ones can go too.
        foreach (var save in _supersededSaves) DeleteSnapshot(save, save);
        _supersededSaves.Clear();
        // Leave only once the directory knows the VMs are gone, so it does not report them Lost when the
        // node is removed; if it cannot be reached in time, leave anyway.
        var requesters = _shutdownRequesters.ToList();
        _shutdownRequesters.Clear();
        _directory.Ask<AnnouncementAccepted>(EmptyAnnouncement(), TimeSpan.FromSeconds(5))
            .ContinueWith(_ => { foreach (var r in requesters) r.Tell(done); }, TaskScheduler.Default);
    }

    private ApiErrorReply NotHere(string name) => AgentErrors.NotHere(name, _info.Name);
}
