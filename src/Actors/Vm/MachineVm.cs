using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Cgroups;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;

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
    /// through it after the VM is gone). With <paramref name="vcpuThreads"/>, the VM's vCPU threads join the group it
    /// makes when the VM is built (a cgroup with a CPU limit), which the VM releases in its teardown.
    /// </summary>
    public static VmActorSpec Spec(string name, IAccelerator accelerator, MachineSpec machine, Func<MachineParts, IEnumerable<VmDevice>>? addDevices = null,
        AsyncPfOptions? asyncPf = null, Action<AsyncPfRouter>? routerBuilt = null, Func<IThreadGroup>? vcpuThreads = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(machine);
        asyncPf?.Validate();
        return new VmActorSpec(name, machine.EffectiveVcpuCount, machine.MemoryBytes + (machine.LazyMemory?.Size ?? 0),
            context => Build(accelerator, machine, context, addDevices, asyncPf, routerBuilt, vcpuThreads),
            $"{machine.Image.Name} on {accelerator.Description}")
        {
            // An image read from a file keeps its descriptor until the VM is torn down.
            Holds = machine.Image as IDisposable,
        };
    }

    /// <summary>
    /// The VM parts of already built machine parts <paramref name="machine"/>, plus <paramref name="extraDevices"/>; its lazy memory
    /// (if any) faults into <paramref name="asyncPf"/>, the router it was built with; its vCPU threads join <paramref name="vcpuThreads"/>;
    /// <paramref name="image"/> (an image file's descriptor) is closed with the VM's other descriptors.
    /// </summary>
    public static VmParts Parts(MachineParts machine, IEnumerable<VmDevice>? extraDevices = null, AsyncPfRouter? asyncPf = null, IThreadGroup? vcpuThreads = null,
        IDisposable? image = null) =>
        Parts(machine, extraDevices, asyncPf, image is null ? [] : [image], vcpuThreads);

    private static VmParts Parts(MachineParts machine, IEnumerable<VmDevice>? extraDevices, AsyncPfRouter? asyncPf, IReadOnlyList<IDisposable> otherResources,
        IThreadGroup? vcpuThreads)
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
            // Each region once: a lazy region by its LazyGuestMemory, which unmaps its own mapping.
            GuestMemory = [.. machine.MemoryRegions.Select(r => r.Lazy ?? (IDisposable)r.Memory).Distinct()],
            AsyncPf = asyncPf,
            OtherResources = [.. asyncPf is null ? [] : new IDisposable[] { asyncPf }, .. otherResources, .. machine.OwnedResources],
            VcpuThreads = vcpuThreads,
            SnapshotContent = vcpuStates => SnapshotContent.Of(machine, "", vcpuStates),
            Machine = machine,
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

    /// <summary>
    /// A spec for VM <paramref name="name"/> restored from the snapshot in <paramref name="snapshotDirectory"/> on
    /// <paramref name="accelerator"/> (see <see cref="SnapshotRestore"/>). The snapshot is opened and checked here (its
    /// manifest, file sizes and state checksums), so a refused one throws before anything is created. In lazy mode the
    /// memory file is the backing store of the VM's async page-fault actors (readahead included), tuned by
    /// <paramref name="asyncPf"/>; <paramref name="routerBuilt"/> gets their router. <paramref name="progress"/> gets
    /// (bytes read, bytes in all) while an eager restore reads memory. With <paramref name="vcpuThreads"/>, the VM's vCPU
    /// threads join the group it makes when the VM is built (a cgroup with a CPU limit), as a created VM's do. The disks'
    /// images are opened where <paramref name="diskPlacement"/> puts them (a node's image directories), or, without one,
    /// at the paths the snapshot recorded.
    /// </summary>
    /// <exception cref="SnapshotException">the snapshot is refused; the message names the file.</exception>
    public static VmActorSpec RestoreSpec(string name, IAccelerator accelerator, string snapshotDirectory, RestoreMode mode,
        AsyncPfOptions? asyncPf = null, Action<AsyncPfRouter>? routerBuilt = null, Action<ulong, ulong>? progress = null,
        Func<IThreadGroup>? vcpuThreads = null, SnapshotDiskPlacement? diskPlacement = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        asyncPf?.Validate();
        var snapshot = SnapshotReader.Open(snapshotDirectory, accelerator.Kind);
        return new VmActorSpec(name, snapshot.VcpuCount, snapshot.Manifest.MemoryBytes,
            context => Restore(accelerator, snapshot, mode, context, asyncPf, routerBuilt, progress, vcpuThreads, diskPlacement),
            $"{snapshot.Manifest.Image} restored ({mode.ToString().ToLowerInvariant()}) from {snapshot.Directory} on {accelerator.Description}");
    }

    /// <summary>
    /// A spec for a VM that arrived by live migration (<see cref="Hardware.Migration.MigrationTarget"/>): its machine is
    /// built and loaded with the source's state, so the spec only hands it over; the VM starts where the source paused it.
    /// Its console output so far stays with the source: the machine's UART writes to this VM's console relay from now on.
    /// </summary>
    /// <remarks>
    /// A machine that may still be arriving by post-copy has lazy memory whose faults go to <paramref name="asyncPf"/>
    /// (the router it was built with, over the store that asks the source): the VM's async-PF actors serve them, readahead
    /// included.
    /// </remarks>
    public static VmActorSpec MigratedSpec(string name, Hardware.Migration.MigrationReceived received, IAccelerator accelerator, MigrationConsole console,
        AsyncPfRouter? asyncPf = null)
    {
        ArgumentNullException.ThrowIfNull(received);
        ArgumentNullException.ThrowIfNull(console);
        var machine = received.Parts;
        return new VmActorSpec(name, machine.Vcpus.Count, received.Header.MemoryBytes, context =>
        {
            console.Attach(context.Console);
            if (asyncPf is not null) asyncPf.Attach(machine.LazyMemory ?? throw new InvalidOperationException("an async-PF router for a migrated machine without lazy memory"));
            return Parts(machine, null, asyncPf, [], vcpuThreads: null);
        }, $"{received.Header.Image} migrated from VM {received.Header.VmName} on {accelerator.Description}");
    }

    private static VmParts Restore(IAccelerator accelerator, SnapshotReader snapshot, RestoreMode mode, VmBuildContext context,
        AsyncPfOptions? asyncPf, Action<AsyncPfRouter>? routerBuilt, Action<ulong, ulong>? progress, Func<IThreadGroup>? vcpuThreads,
        SnapshotDiskPlacement? diskPlacement)
    {
        FileBackingStore? store = null;
        AsyncPfRouter? router = null;
        MachineParts? machine = null;
        IThreadGroup? threads = null;
        try
        {
            if (mode == RestoreMode.Lazy)
            {
                store = FileBackingStore.Open(snapshot.MemoryPath(snapshot.Region(0)!));
                router = new AsyncPfRouter(store, snapshot.VcpuCount, 0, asyncPf);
            }
            machine = SnapshotRestore.Build(accelerator, snapshot, mode, context.Console, router, progress, diskPlacement);
            if (router is not null)
            {
                router.Attach(machine.LazyMemory!);
                routerBuilt?.Invoke(router);
            }
            threads = vcpuThreads?.Invoke();
            return Parts(machine, null, router, store is null ? [] : [store], threads);
        }
        catch
        {
            threads?.Dispose();
            machine?.Dispose();
            router?.Dispose();
            store?.Dispose();
            throw;
        }
    }

    private static VmParts Build(IAccelerator accelerator, MachineSpec spec, VmBuildContext context, Func<MachineParts, IEnumerable<VmDevice>>? addDevices,
        AsyncPfOptions? asyncPf, Action<AsyncPfRouter>? routerBuilt, Func<IThreadGroup>? vcpuThreads)
    {
        var router = spec.LazyMemory is { } lazy
            ? new AsyncPfRouter(lazy.Store, spec.EffectiveVcpuCount, lazy.GuestPhysicalAddress, asyncPf)
            : null;
        MachineParts machine;
        try
        {
            machine = MachineParts.Build(accelerator, spec, context.Console, router);
        }
        catch
        {
            (spec.Image as IDisposable)?.Dispose();
            throw;
        }
        IThreadGroup? threads = null;
        try
        {
            if (router is not null)
            {
                router.Attach(machine.LazyMemory!);
                routerBuilt?.Invoke(router);
            }
            threads = vcpuThreads?.Invoke();
            return Parts(machine, addDevices?.Invoke(machine).ToList(), router, threads, spec.Image as IDisposable);
        }
        catch
        {
            threads?.Dispose();
            (spec.Image as IDisposable)?.Dispose();
            machine.Dispose();
            throw;
        }
    }
}
