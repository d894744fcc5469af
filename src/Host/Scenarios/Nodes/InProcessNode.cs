using Actorvisor.Hardware.Cgroups;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Vfio;
using Actorvisor.Host.Scenarios.Devices;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A node inside the runner's process: one <see cref="ActorvisorRuntime"/>. Each VM is built by
/// <see cref="MachineVm"/> on the accelerator its declaration asks for (opened once per kind and shared by
/// the node's VMs), with the scenario's extra devices and a <see cref="MemoryWitness"/> (the checked ranges, kept at teardown),
/// or restored from one of the node's snapshots (kept in a temporary folder made on first use and deleted with the node).
/// </summary>
internal sealed class InProcessNode(NodeDeclaration declaration, ActorvisorRuntime runtime, Func<IVirtualMachine, IKvmVfioDevice>? kvmVfioDevice) : IScenarioNode
{
    private readonly object _gate = new();
    private readonly Dictionary<AcceleratorPreference, IAccelerator> _accelerators = new();
    private CpuLimitCgroups? _cpuLimits;
    private string _cpuLimitsUnavailable = "";
    private bool _cpuLimitsProbed;
    private string? _snapshotDirectory;

    /// <inheritdoc />
    public NodeDeclaration Declaration { get; } = declaration;

    /// <inheritdoc />
    public async Task<IScenarioVm> CreateVmAsync(VmDeclaration vm, IReadOnlyList<(ulong Address, ulong Length)> memoryRanges, CancellationToken cancellationToken)
    {
        var accelerator = Accelerator(vm.Accelerator);
        var (store, file) = OpenLazyStore(vm);
        var machine = vm.ToMachineSpec(store);
        AsyncPfRouter? router = null;
        var observation = new VmObservation { VmName = vm.Name };
        var crashable = new Dictionary<string, CrashablePortDevice>();
        MemoryWitness? witness = null;
        var spec = MachineVm.Spec(vm.Name, accelerator, machine, m =>
        {
            var devices = new List<VmDevice>();
            foreach (var d in vm.Devices)
            {
                var device = new CrashablePortDevice(d.Name);
                m.Bus.RegisterPorts(d.Port, 1, device);
                crashable[d.Name] = device;
                devices.Add(new VmDevice(d.Name, device));
            }
            witness = new MemoryWitness(m.Memory, memoryRanges);
            devices.Add(new VmDevice(MemoryWitness.DeviceName, witness));
            // Closed with the VM's devices: after its vCPUs stopped and its async page faults were flushed.
            if (file is not null) devices.Add(new VmDevice("scenario-lazy-store", file));
            return devices;
        }, routerBuilt: r => router = r, vcpuThreads: CpuLimitGroup(vm)) with
        {
            VfioFiles = vm.VfioFiles,
            KvmVfioDevice = kvmVfioDevice,
        };
        VmSession session;
        try
        {
            session = await runtime.CreateVmAsync(spec, e => Observe(observation, e)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ActorvisorException e)
        {
            file?.Dispose();
            throw new VmRequestRefusedException(e.Message, e, InProcessVm.KindOf(e));
        }
        var description = vm.CpuLimit is { } limit
            ? $"{accelerator.Description}, cpu-limit {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)}{(CpuLimits() is null ? $" not applied: {_cpuLimitsUnavailable}" : "")}"
            : accelerator.Description;
        return new InProcessVm(vm, session, observation, description, crashable, witness!, runtime.RequestTimeout)
        {
            SnapshotPath = SnapshotPath,
            LazyStore = store,
            AsyncPf = router,
        };
    }

    /// <inheritdoc />
    public async Task<IScenarioVm> RestoreVmAsync(VmDeclaration vm, string snapshot, string snapshotNode, RestoreMode mode, string consoleBefore,
        CancellationToken cancellationToken)
    {
        if (snapshotNode != Declaration.Name)
            throw new VmRequestRefusedException($"snapshot '{snapshot}' is on node '{snapshotNode}'; in-process node '{Declaration.Name}' restores only its own snapshots");
        var accelerator = Accelerator(vm.Accelerator);
        var observation = new VmObservation { VmName = vm.Name };
        observation.OnSerial(consoleBefore);
        observation.SerialCursor = consoleBefore.Length;
        AsyncPfRouter? router = null;
        VmActorSpec spec;
        try
        {
            spec = MachineVm.RestoreSpec(vm.Name, accelerator, SnapshotPath(snapshot), mode, routerBuilt: r => router = r, vcpuThreads: CpuLimitGroup(vm));
        }
        catch (SnapshotException e)
        {
            throw new VmRequestRefusedException(e.Message, e);
        }
        VmSession session;
        try
        {
            session = await runtime.CreateVmAsync(spec, e => Observe(observation, e)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ActorvisorException e)
        {
            throw new VmRequestRefusedException(e.Message, e, InProcessVm.KindOf(e));
        }
        var description = $"{accelerator.Description}, memory restored {mode.ToString().ToLowerInvariant()}";
        return new InProcessVm(vm, session, observation, description, new Dictionary<string, CrashablePortDevice>(), null, runtime.RequestTimeout)
        {
            SnapshotPath = SnapshotPath,
            AsyncPf = router,
        };
    }

    // The node's snapshot directory (a temporary folder made on first use, deleted with the node) and snapshot NAME's path in it.
    private string SnapshotPath(string name)
    {
        lock (_gate) _snapshotDirectory ??= Directory.CreateTempSubdirectory("actorvisor-scenario-snapshots-").FullName;
        return Path.Combine(_snapshotDirectory, name);
    }

    /// <inheritdoc />
    public Task KillAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("an in-process node cannot be killed: it is the runner's own process");

    // The declared store, always wrapped in a slow store (0 latency unless declared) that slow-store and
    // failing-store can change while the VM runs.
    private static (SlowBackingStore? Store, FileBackingStore? File) OpenLazyStore(VmDeclaration vm)
    {
        if (vm.LazyMemory is not { } lazy) return (null, null);
        FileBackingStore? file;
        try
        {
            file = lazy.Store == LazyStoreKind.File ? FileBackingStore.Open(lazy.FullPath!) : null;
        }
        catch (BackingStoreException e)
        {
            throw new VmRequestRefusedException(e.Message, e);
        }
        return (new SlowBackingStore(file ?? (IBackingStore)new ZeroBackingStore(), lazy.Latency), file);
    }

    // The runner process's cgroups for VMs with a cpu-limit, opened on first use; without them such VMs run unlimited
    // (their description says why).
    private Func<IThreadGroup>? CpuLimitGroup(VmDeclaration vm) =>
        vm.CpuLimit is { } limit && CpuLimits() is { } groups ? () => groups.Create(vm.Name, limit) : null;

    private CpuLimitCgroups? CpuLimits()
    {
        lock (_gate)
        {
            if (!_cpuLimitsProbed)
            {
                _cpuLimits = CpuLimitCgroups.TryOpen(out var unavailable);
                _cpuLimitsUnavailable = unavailable;
                _cpuLimitsProbed = true;
            }
            return _cpuLimits;
        }
    }

    private IAccelerator Accelerator(AcceleratorPreference preference)
    {
        lock (_gate)
        {
            if (_accelerators.TryGetValue(preference, out var open)) return open;
            try
            {
                var accelerator = AcceleratorSelector.Open(preference, out _);
                _accelerators[preference] = accelerator;
                return accelerator;
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or InvalidOperationException)
            {
                throw new VmRequestRefusedException($"accelerator {preference.ToString().ToLowerInvariant()} is not available: {e.Message}", e);
            }
        }
    }

    private static void Observe(VmObservation observation, VmEvent e)
    {
        switch (e)
        {
            case VmConsoleOutput output:
                observation.OnSerial(output.Text);
                break;
            case VmStateChanged changed:
                observation.OnState(InProcessVm.Map(changed.To));
                break;
            case VmEnded ended:
                observation.OnEnded(InProcessVm.Map(ended.Outcome));
                break;
        }
    }

    /// <summary>Shuts the runtime down (destroying every VM in teardown order), then closes the accelerators and deletes the snapshots.</summary>
    public async ValueTask DisposeAsync()
    {
        await runtime.ShutdownAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var accelerator in _accelerators.Values) accelerator.Dispose();
            _accelerators.Clear();
        }
        if (_snapshotDirectory is not null)
        {
            try
            {
                Directory.Delete(_snapshotDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
