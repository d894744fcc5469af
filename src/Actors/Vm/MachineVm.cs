using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Builds actor-run VMs from the hardware layer's <see cref="MachineParts"/> (the building half of a machine):
/// guest RAM, the VM and its vCPUs set up to boot the image, and the device bus with the UART and the
/// debug-exit port. The VmActor drives the parts itself and releases each in its teardown step; the guest's
/// serial output goes only to the VM's console relay (no capture).
/// </summary>
public static class MachineVm
{
    /// <summary>
    /// A spec for VM <paramref name="name"/> running <paramref name="machine"/> on <paramref name="accelerator"/>.
    /// <paramref name="addDevices"/> may register more devices on the machine's bus before it runs and
    /// returns them so that the VM owns and releases them. If the machine has lazy memory, its faults go to the
    /// VM's async page-fault actors, tuned by <paramref name="asyncPf"/> (default <see cref="AsyncPfOptions.Default"/>);
    /// <paramref name="routerBuilt"/> is then called with their router when the VM is built (its counters stay readable
    /// through it after the VM is gone).
    /// </summary>
    public static VmActorSpec Spec(string name, IAccelerator accelerator, MachineSpec machine, Func<MachineParts, IEnumerable<VmDevice>>? addDevices = null,
        AsyncPfOptions? asyncPf = null, Action<AsyncPfRouter>? routerBuilt = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(machine);
        asyncPf?.Validate();
        return new VmActorSpec(name, machine.EffectiveVcpuCount, machine.MemoryBytes + (machine.LazyMemory?.Size ?? 0),
            context => Build(accelerator, machine, context, addDevices, asyncPf, routerBuilt),
            $"{machine.Image.Name} on {accelerator.Description}");
    }

    /// <summary>
    /// The VM parts of already built machine parts <paramref name="machine"/>, plus <paramref name="extraDevices"/>; its lazy memory
    /// (if any) faults into <paramref name="asyncPf"/>, the router it was built with.
    /// </summary>
    public static VmParts Parts(MachineParts machine, IEnumerable<VmDevice>? extraDevices = null, AsyncPfRouter? asyncPf = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var debugExit = machine.DebugExit;
        return new VmParts
        {
            Vm = machine.Vm,
            ExitHandler = machine.Bus,
            Vcpus = machine.Vcpus,
            Devices =
            [
                new VmDevice(machine.Serial.Name, machine.Serial), new VmDevice(debugExit.Name, debugExit),
                .. machine.PlatformDevices.Select(d => new VmDevice(d.Name, d)),
                // Each virtio device gets a VirtioDeviceActor that serves its queues; the set (image files, eventfds,
                // the ioeventfd poller) is released with the other devices, before the VM.
                .. machine.Virtio.Transports.Select(t => new VmDevice(t.Name, t)),
                .. machine.Virtio.Transports.Count > 0 ? [new VmDevice("virtio-devices", machine.Virtio)] : Array.Empty<VmDevice>(),
                .. extraDevices ?? [],
            ],
            GuestMemory = machine.LazyMemory is { } lazy ? [machine.Memory, lazy] : [machine.Memory],
            AsyncPf = asyncPf,
            OtherResources = asyncPf is null ? [] : [asyncPf],
            // The bus stops a vCPU on a debug-exit write or (PC platform) the i8042 reset command; any other stop is a
            // device giving up on the guest.
            InterpretExit = exit => exit switch
            {
                VcpuExit.PortIo when debugExit.ResultCode is { } code => new VmOutcome.Exited(code),
                VcpuExit.PortIo when machine.ResetRequested => new VmOutcome.Reset(),
                VcpuExit.SystemReset => new VmOutcome.Reset(),
                _ => null,
            },
        };
    }

    private static VmParts Build(IAccelerator accelerator, MachineSpec spec, VmBuildContext context, Func<MachineParts, IEnumerable<VmDevice>>? addDevices,
        AsyncPfOptions? asyncPf, Action<AsyncPfRouter>? routerBuilt)
    {
        var router = spec.LazyMemory is { } lazy
            ? new AsyncPfRouter(lazy.Store, spec.EffectiveVcpuCount, lazy.GuestPhysicalAddress, asyncPf)
            : null;
        var machine = MachineParts.Build(accelerator, spec, context.Console, router);
        try
        {
            if (router is not null)
            {
                router.Attach(machine.LazyMemory!);
                routerBuilt?.Invoke(router);
            }
            return Parts(machine, addDevices?.Invoke(machine).ToList(), router);
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }
}
