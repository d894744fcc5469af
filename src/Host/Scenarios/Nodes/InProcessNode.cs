using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Vfio;
using Actorvisor.Host.Scenarios.Devices;
using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A node inside the runner's process: one <see cref="ActorvisorRuntime"/>. Each VM is built by
/// <see cref="MachineVm"/> on the accelerator its declaration asks for (opened once per kind and shared by
/// the node's VMs), with the scenario's extra devices and a <see cref="MemoryWitness"/> (the checked ranges, kept at teardown).
/// </summary>
internal sealed class InProcessNode(NodeDeclaration declaration, ActorvisorRuntime runtime, Func<IVirtualMachine, IKvmVfioDevice>? kvmVfioDevice) : IScenarioNode
{
    private readonly object _gate = new();
    private readonly Dictionary<AcceleratorPreference, IAccelerator> _accelerators = new();

    /// <inheritdoc />
    public NodeDeclaration Declaration { get; } = declaration;

    /// <inheritdoc />
    public async Task<IScenarioVm> CreateVmAsync(VmDeclaration vm, IReadOnlyList<(ulong Address, ulong Length)> memoryRanges, CancellationToken cancellationToken)
    {
        var accelerator = Accelerator(vm.Accelerator);
        var machine = vm.ToMachineSpec();
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
            return devices;
        }) with
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
            throw new VmRequestRefusedException(e.Message, e, InProcessVm.KindOf(e));
        }
        return new InProcessVm(vm, session, observation, accelerator.Description, crashable, witness!, runtime.RequestTimeout);
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

    /// <summary>Shuts the runtime down (destroying every VM in teardown order), then closes the accelerators.</summary>
    public async ValueTask DisposeAsync()
    {
        await runtime.ShutdownAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var accelerator in _accelerators.Values) accelerator.Dispose();
            _accelerators.Clear();
        }
    }
}
