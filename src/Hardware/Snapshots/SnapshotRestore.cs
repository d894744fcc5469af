using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Builds a machine from a checked snapshot (<see cref="SnapshotReader"/>): guest RAM (memslot 0) in the chosen
/// <see cref="RestoreMode"/> and any other region read eagerly, a new accelerator VM with its vCPUs loaded from their
/// saved state, the platform state, and the platform's devices (UART on COM1, debug-exit port, the software
/// accelerator's APIC window; on a PC-platform snapshot, KVM's in-kernel chipset, the interrupt-driven UART and the
/// PC port devices) with the UART's saved state, and the virtio-blk devices of the snapshot's disks over their images (each
/// checked against the size and modification time the snapshot recorded) with their transports' state. Nothing of the
/// image is loaded and no boot structure is
/// written: the vCPUs continue where the snapshot stopped them. Either every part is built, or what was allocated is
/// released and the exception thrown (nothing runs).
/// </summary>
public static class SnapshotRestore
{
    /// <summary>
    /// Restores <paramref name="snapshot"/> on <paramref name="accelerator"/> (the snapshot's kind). In lazy mode the faults
    /// go to <paramref name="lazyFaults"/> (the actor runtime's async-PF router, over a store of the memory file the caller
    /// opened), or, without one, to a <see cref="SynchronousPageResolver"/> over a store the machine opens and owns.
    /// <paramref name="progress"/> gets (bytes read, bytes in all) while an eager restore reads. Each disk image is opened
    /// where <paramref name="diskPlacement"/> puts it (a node's image directories), or, without one, at the path recorded.
    /// </summary>
    /// <exception cref="SnapshotException">the snapshot does not fit this accelerator or its files are corrupt; the message names the file.</exception>
    public static MachineParts Build(IAccelerator accelerator, SnapshotReader snapshot, RestoreMode mode, IConsoleSink console,
        IPageFaultSink? lazyFaults = null, Action<ulong, ulong>? progress = null, SnapshotDiskPlacement? diskPlacement = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(console);
        var manifestPath = Path.Join(snapshot.Directory, SnapshotFormat.ManifestFile);
        if (accelerator.Kind.ToString() != snapshot.Manifest.Accelerator)
            throw new SnapshotException(manifestPath, $"taken on the {snapshot.Manifest.Accelerator} accelerator; it cannot be restored on the {accelerator.Kind} accelerator");
        var ram = snapshot.Region(0) ?? throw new SnapshotException(manifestPath, "it has no memory region for memslot 0 (guest RAM at 0)");
        if (ram.GuestPhysicalAddress != 0) throw new SnapshotException(manifestPath, $"memslot 0 starts at 0x{ram.GuestPhysicalAddress:x}, not 0");
        int vcpuCount = snapshot.VcpuCount;

        var owned = new List<IDisposable>();
        var regions = new List<SnapshotMemoryRegion>();
        HostMemory? memory = null;
        LazyGuestMemory? lazy = null;
        ulong done = 0, total = snapshot.Manifest.MemoryBytes;
        void Read(ulong bytes) => progress?.Invoke(done += bytes, total);
        try
        {
            var ramPath = snapshot.MemoryPath(ram);
            switch (mode)
            {
                case RestoreMode.Eager:
                    memory = HostMemory.Allocate(ram.Size);
                    snapshot.ReadMemoryInto(ram, memory, Read);
                    regions.Add(new(0, 0, memory));
                    break;
                case RestoreMode.Mmap:
                    memory = HostMemory.MapPrivateFile(ramPath, ram.Size);
                    regions.Add(new(0, 0, memory));
                    break;
                case RestoreMode.Lazy:
                    IBackingStore store;
                    if (lazyFaults is null)
                    {
                        var file = FileBackingStore.Open(ramPath);
                        owned.Add(file);
                        store = file;
                        lazyFaults = new SynchronousPageResolver(file);
                    }
                    else store = (lazyFaults as IStoreBackedFaultSink)?.Store ?? throw new ArgumentException("a lazy restore's fault sink must say which store it reads", nameof(lazyFaults));
                    lazy = LazyGuestMemory.Create(ram.Size, lazyFaults, name: "restored-guest-ram");
                    memory = lazy.Memory;
                    regions.Add(new(0, 0, memory, lazy, store));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(mode), mode, "not a restore mode");
            }
            foreach (var other in snapshot.Manifest.Memory.Where(r => r.Slot != 0))
            {
                var extra = HostMemory.Allocate(other.Size, name: $"guest-ram-slot{other.Slot}");
                owned.Add(extra);
                snapshot.ReadMemoryInto(other, extra, Read);
                regions.Add(new(other.Slot, other.GuestPhysicalAddress, extra));
            }

            var image = new RestoredGuestImage(snapshot.Manifest);
            return Assemble(accelerator, regions, lazy, image, console, owned,
                [.. Enumerable.Range(0, vcpuCount).Select(i => new SavedState(snapshot.Manifest.Vcpus[i], () => snapshot.VcpuState(i)))],
                new SavedState(snapshot.Manifest.Platform, () => snapshot.PlatformState),
                [.. snapshot.Manifest.Devices.Select(d => new SavedState(d.File, () => snapshot.DeviceState(d.Name) ?? [], d.Name))],
                (part, e) => new SnapshotException(Path.Join(snapshot.Directory, part), e.Message, e), snapshot.Platform, snapshot.Manifest.Disks, diskPlacement);
        }
        catch
        {
            lazy?.Dispose();
            if (lazy is null) memory?.Dispose();
            foreach (var o in owned) o.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds a machine around guest memory that already holds the saved VM's pages (<paramref name="regions"/>, memslot 0
    /// first and at guest-physical 0, lazily filled if <paramref name="lazy"/> is set): a new accelerator VM with those
    /// memslots, on <paramref name="platform"/> Pc KVM's in-kernel chipset first, one vCPU per <paramref name="vcpuStates"/> loaded
    /// from it, the platform state, and the platform's devices (UART on COM1, debug-exit port, the software accelerator's
    /// APIC window; the PC port devices on the PC platform; the virtio-blk devices of <paramref name="disks"/>, whose images
    /// must still be what the snapshot recorded, else a <see cref="SnapshotException"/> names the image; each opened where
    /// <paramref name="diskPlacement"/> puts it, or at its recorded path) with the devices' saved states.
    /// A state a component refuses becomes <paramref name="refusal"/>(its origin, the FormatException). On failure the
    /// VM and vCPUs built here are released; the memory and <paramref name="owned"/> stay the caller's to release.
    /// On success the machine owns all of it.
    /// </summary>
    public static MachineParts Assemble(IAccelerator accelerator, IReadOnlyList<SnapshotMemoryRegion> regions, LazyGuestMemory? lazy,
        IBootableImage image, IConsoleSink console, IReadOnlyList<IDisposable> owned, IReadOnlyList<SavedState> vcpuStates, SavedState platformState,
        IReadOnlyList<SavedState> deviceStates, Func<string, FormatException, Exception> refusal, GuestPlatform platform = GuestPlatform.Minimal,
        IReadOnlyList<SnapshotDiskEntry>? disks = null, SnapshotDiskPlacement? diskPlacement = null)
    {
        var parts = Shell(accelerator, regions, lazy, image, console, owned, vcpuStates.Count, refusal, platform, disks, diskPlacement);
        try
        {
            Load(parts, vcpuStates, platformState, deviceStates, refusal);
            return parts;
        }
        catch
        {
            ReleaseShell(parts);
            throw;
        }
    }

    /// <summary>
    /// The first half of <see cref="Assemble"/>, for a caller that has the layout before the states (a migration target
    /// builds it while pages still come): the accelerator VM with the memslots, the chipset, <paramref name="vcpuCount"/>
    /// vCPUs and the devices, nothing loaded. <see cref="Load"/> loads the states into it before anything runs. On failure
    /// what was built here is released; the memory and <paramref name="owned"/> stay the caller's, and so they do on
    /// success until the machine is loaded (<see cref="ReleaseShell"/> releases only what this built).
    /// </summary>
    public static MachineParts Shell(IAccelerator accelerator, IReadOnlyList<SnapshotMemoryRegion> regions, LazyGuestMemory? lazy,
        IBootableImage image, IConsoleSink console, IReadOnlyList<IDisposable> owned, int vcpuCount, Func<string, FormatException, Exception> refusal,
        GuestPlatform platform = GuestPlatform.Minimal, IReadOnlyList<SnapshotDiskEntry>? disks = null, SnapshotDiskPlacement? diskPlacement = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(refusal);
        if (regions.Count == 0 || regions[0].Slot != 0 || regions[0].GuestPhysicalAddress != 0)
            throw new ArgumentException("the first region must be memslot 0 at guest-physical 0", nameof(regions));
        var memory = regions[0].Memory;
        disks ??= [];
        IVirtualMachine? vm = null;
        var vcpus = new List<IVirtualCpu>();
        MachineVirtioDevices? virtio = null;
        try
        {
            var diskSpecs = disks.Select(d => CheckDisk(d, diskPlacement)).ToArray();
            vm = accelerator.CreateVm();
            vm.SetMemoryRegion(lazy is null ? Memslot.For(0, 0, memory) : lazy.ToMemslot(0, 0));
            foreach (var region in regions.Skip(1)) vm.SetMemoryRegion(Memslot.For(region.Slot, region.GuestPhysicalAddress, region.Memory));
            // The order KVM needs: the in-kernel chipset before any vCPU (KVM_CREATE_IRQCHIP; a vCPU's LAPIC state
            // loads only into a vCPU created with one); Load then restores each vCPU's state and the VM-wide state.
            IPcPlatformVm? pc = null;
            if (platform == GuestPlatform.Pc)
            {
                pc = vm as IPcPlatformVm ?? throw refusal(SnapshotFormat.ManifestFile, new FormatException($"taken of a PC-platform machine, which this {vm.Kind} VM cannot be"));
                pc.CreatePcChipset();
            }
            for (int i = 0; i < vcpuCount; i++) vcpus.Add(vm.CreateVcpu(i));

            var bus = new DeviceBus();
            var serial = new Uart16550(console, pc, Uart16550.Com1Irq);
            bus.RegisterPorts(Uart16550.Com1Port, Uart16550.PortCount, serial);
            var debugExit = new DebugExitDevice();
            bus.RegisterPorts(DebugExitDevice.DefaultPort, 1, debugExit);
            I8042Controller? i8042 = null;
            IReadOnlyList<IPortIoDevice> platformDevices = [];
            if (pc is not null) (i8042, platformDevices) = PcPlatformDevices.Register(bus, memory.Size, vcpuCount);
            if (vm is SoftVm soft) bus.RegisterMmio(LocalApic.DefaultBase, LocalApic.WindowSize, soft.ApicWindow);
            virtio = MachineVirtioDevices.Build(diskSpecs, [], null, vm, pc, bus, image.Name);
            // Checked again on the descriptors the devices use: the image may have changed since CheckDisk opened it.
            for (int i = 0; i < disks.Count; i++) CheckIdentity(disks[i], ((VirtioBlock)virtio.Transports[i].Device).ImageIdentity);

            var spec = new MachineSpec { Image = image, MemoryBytes = memory.Size, VcpuCount = vcpuCount, Disks = diskSpecs };
            var loaded = new LoadedImage(image.Name, 0, []);
            var boot = new BootSetup(image.BootMode, 0, vcpuCount);
            return new MachineParts(spec, memory, lazy, vm, [.. vcpus], loaded, boot, bus, serial, debugExit, i8042, platformDevices, regions, owned, virtio);
        }
        catch
        {
            virtio?.Dispose();
            foreach (var v in vcpus) v.Dispose();
            vm?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The second half of <see cref="Assemble"/>: loads a <see cref="Shell"/> that has not run with one state per vCPU
    /// (in order), the platform state after them (KVM wants every LAPIC loaded before the VM-wide state), and each
    /// device's state by name. A state a component refuses becomes <paramref name="refusal"/>(its origin, the
    /// FormatException); the shell is then in an unknown state and is to be released.
    /// </summary>
    public static void Load(MachineParts parts, IReadOnlyList<SavedState> vcpuStates, SavedState platformState, IReadOnlyList<SavedState> deviceStates,
        Func<string, FormatException, Exception> refusal)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(refusal);
        if (vcpuStates.Count != parts.Vcpus.Count)
            throw new ArgumentException($"{vcpuStates.Count} vCPU states for a machine of {parts.Vcpus.Count} vCPUs", nameof(vcpuStates));
        for (int i = 0; i < vcpuStates.Count; i++)
        {
            var vcpu = parts.Vcpus[i];
            var saved = vcpuStates[i];
            Apply(saved.Origin, () => vcpu.RestoreState(saved.Read()), refusal);
        }
        Apply(platformState.Origin, () => parts.Vm.RestorePlatformState(platformState.Read()), refusal);
        var devices = parts.StatefulDevices;
        foreach (var saved in deviceStates)
        {
            var device = devices.FirstOrDefault(d => d.Name == saved.DeviceName);
            if (device is null)
                throw refusal(saved.Origin, new FormatException($"device '{saved.DeviceName}' has no counterpart in a restored machine (it restores {string.Join(", ", devices.Select(d => d.Name))})"));
            Apply(saved.Origin, () => device.RestoreState(saved.Read()), refusal);
        }
    }

    /// <summary>Releases what <see cref="Shell"/> built (devices, vCPUs, the VM), leaving the memory and the owned resources to the caller.</summary>
    public static void ReleaseShell(MachineParts parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        parts.Virtio.Dispose();
        foreach (var vcpu in parts.Vcpus) vcpu.Dispose();
        parts.Vm.Dispose();
    }

    // The disk image the snapshot names, opened where the placement puts it, as it was then: it must still be there with the
    // same size and modification time (the guest's page cache and the disk's contents go together), else the restore is
    // refused naming the image.
    private static VirtioDiskSpec CheckDisk(SnapshotDiskEntry disk, SnapshotDiskPlacement? placement)
    {
        var spec = placement?.Invoke(disk) ?? new VirtioDiskSpec { Path = disk.Path, ReadOnly = disk.ReadOnly };
        try
        {
            using var file = spec.Open();
            CheckIdentity(disk, file.Identity);
        }
        catch (Exception e) when (e is ConfinedPathException or SyscallException)
        {
            throw new SnapshotException(disk.Path, $"disk {disk.Device}'s image cannot be opened: {e.Message}", e);
        }
        return spec;
    }

    private static void CheckIdentity(SnapshotDiskEntry disk, FileIdentity now)
    {
        if (now != disk.Identity)
            throw new SnapshotException(disk.Path, $"disk {disk.Device}'s image changed since the snapshot was taken (then {disk.Identity}, now {now}); " +
                "restoring over it would give the guest a disk that does not match its memory");
    }

    // A state a component refuses (another version, another vCPU count) is its origin's fault: name it.
    private static void Apply(string origin, Action load, Func<string, FormatException, Exception> refusal)
    {
        try
        {
            load();
        }
        catch (FormatException e)
        {
            throw refusal(origin, e);
        }
    }
}
