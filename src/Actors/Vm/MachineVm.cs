using Actorvisor.Actors.Devices;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Builds actor-run VMs from the hardware layer's <see cref="Machine"/>: guest RAM, the VM and its vCPUs set
/// up to boot the image, and the device bus with the UART and the debug-exit port. The VmActor drives the
/// machine's parts itself (it never calls <see cref="Machine.Run"/> or <see cref="Machine.Dispose"/>).
/// </summary>
public static class MachineVm
{
    /// <summary>
    /// A spec for VM <paramref name="name"/> running <paramref name="machine"/> on <paramref name="accelerator"/>.
    /// <paramref name="addDevices"/> may register more devices on the machine's bus before it runs and
    /// returns them so that the VM owns and releases them.
    /// </summary>
    public static VmSpec Spec(string name, IAccelerator accelerator, MachineSpec machine, Func<Machine, IEnumerable<VmDevice>>? addDevices = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(machine);
        return new VmSpec(name, machine.EffectiveVcpuCount, machine.MemoryBytes,
            context => Build(accelerator, machine, context, addDevices),
            $"{machine.Image.Name} on {accelerator.Description}");
    }

    /// <summary>The parts of an already built <paramref name="machine"/>, plus <paramref name="extraDevices"/>.</summary>
    public static VmParts Parts(Machine machine, IEnumerable<VmDevice>? extraDevices = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var debugExit = machine.DebugExit;
        return new VmParts
        {
            Vm = machine.Vm,
            ExitHandler = machine.Bus,
            Vcpus = machine.Vcpus,
            Devices = [new VmDevice(machine.Serial.Name, machine.Serial), new VmDevice(debugExit.Name, debugExit), .. extraDevices ?? []],
            GuestMemory = [machine.Memory],
            // The bus stops a vCPU on a debug-exit write; any other stop is a device giving up on the guest.
            InterpretExit = exit => exit is VcpuExit.PortIo && debugExit.ResultCode is { } code ? new VmOutcome.Exited(code) : null,
        };
    }

    private static VmParts Build(IAccelerator accelerator, MachineSpec spec, VmBuildContext context, Func<Machine, IEnumerable<VmDevice>>? addDevices)
    {
        var machine = Machine.Create(accelerator, spec, context.Console);
        try
        {
            return Parts(machine, addDevices?.Invoke(machine).ToList());
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }
}
