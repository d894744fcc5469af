using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Acpi;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// The building half of a machine, and the owner of what it built from an accelerator and a
/// <see cref="MachineSpec"/>: guest RAM in memslot 0 at guest-physical 0 (and the lazy region, if any), the
/// image loaded, the boot structures written, the accelerator VM and every vCPU set up for entry, a device
/// bus with a 16550 UART on COM1 and the debug-exit port, and the virtio-blk devices of the spec's disks. Whoever drives the vCPUs (<see cref="Machine.Run"/>,
/// or the actor runtime's own threads) must have stopped them before <see cref="Dispose"/> releases the parts
/// as a unit.
/// </summary>
public sealed class MachineParts : IDisposable
{
    private readonly IVirtualCpu[] _vcpus;
    private readonly IReadOnlyList<IDisposable> _owned;
    private int _disposed;

    internal MachineParts(MachineSpec spec, HostMemory memory, LazyGuestMemory? lazyMemory, IVirtualMachine vm, IVirtualCpu[] vcpus, LoadedImage image,
        BootSetup boot, DeviceBus bus, Uart16550 serial, DebugExitDevice debugExit, I8042Controller? resetController, IReadOnlyList<IPortIoDevice> platformDevices,
        IReadOnlyList<SnapshotMemoryRegion> memoryRegions, IReadOnlyList<IDisposable>? owned = null, MachineVirtioDevices? virtio = null)
    {
        MemoryRegions = memoryRegions;
        _owned = owned ?? [];
        Virtio = virtio ?? MachineVirtioDevices.None;
        ResetController = resetController;
        PlatformDevices = platformDevices;
        Spec = spec;
        Memory = memory;
        LazyMemory = lazyMemory;
        Vm = vm;
        _vcpus = vcpus;
        Image = image;
        Boot = boot;
        Bus = bus;
        Serial = serial;
        DebugExit = debugExit;
    }

    /// <summary>The spec the parts were built from.</summary>
    public MachineSpec Spec { get; }

    /// <summary>Guest RAM: guest-physical address N is offset N.</summary>
    public HostMemory Memory { get; }

    /// <summary>The lazy region of <see cref="MachineSpec.LazyMemory"/> (memslot <see cref="LazyMemorySpec.Slot"/>), or null.</summary>
    public LazyGuestMemory? LazyMemory { get; }

    /// <summary>
    /// Guest memory by memslot, as a snapshot saves it: ordinary RAM, and the lazy region (with the store its missing
    /// pages come from) if there is one.
    /// </summary>
    public IReadOnlyList<SnapshotMemoryRegion> MemoryRegions { get; }

    /// <summary>What else the parts own and release last (a restored machine's memory-file store).</summary>
    public IReadOnlyList<IDisposable> OwnedResources => _owned;

    /// <summary>The devices whose state a snapshot keeps (the UART, and any platform device that has state).</summary>
    public IReadOnlyList<IStatefulDevice> StatefulDevices => [Serial, .. PlatformDevices.OfType<IStatefulDevice>()];

    /// <summary>The accelerator's VM.</summary>
    public IVirtualMachine Vm { get; }

    /// <summary>The vCPUs, by index.</summary>
    public IReadOnlyList<IVirtualCpu> Vcpus => _vcpus;

    /// <summary>Where the image was loaded and its entry point (after the spec's override).</summary>
    public LoadedImage Image { get; }

    /// <summary>The boot setup applied to memory and vCPUs (mode, entry, vCPU count).</summary>
    public BootSetup Boot { get; }

    /// <summary>The exit handler of every vCPU: register more devices here before running.</summary>
    public DeviceBus Bus { get; }

    /// <summary>The UART on COM1 (0x3f8).</summary>
    public Uart16550 Serial { get; }

    /// <summary>The debug-exit device on port 0xf4.</summary>
    public DebugExitDevice DebugExit { get; }

    /// <summary>The platform the machine was built as (the image's).</summary>
    public GuestPlatform Platform => Spec.Image.Platform;

    /// <summary>The i8042 whose reset command ends a PC machine with outcome reset; null on the minimal platform.</summary>
    public I8042Controller? ResetController { get; }

    /// <summary>The PC platform's devices besides the UART and debug-exit (i8042, CMOS/RTC, PCI ports, port 0x80, fw_cfg); empty on the minimal platform.</summary>
    public IReadOnlyList<IPortIoDevice> PlatformDevices { get; }

    /// <summary>The virtio-mmio devices of the spec's disks (none if it has no disks).</summary>
    public MachineVirtioDevices Virtio { get; }

    /// <summary>True if the guest asked for a reset (the i8042 reset command).</summary>
    public bool ResetRequested => ResetController?.ResetRequested == true;

    /// <summary>
    /// Builds the parts. The guest's serial output goes to <paramref name="console"/>. The faults of the spec's
    /// lazy memory go to <paramref name="lazyFaults"/> (the actor runtime's async page-fault machinery); without
    /// one a <see cref="SynchronousPageResolver"/> on the region's fault reader thread fills them from the spec's store.
    /// Either every part is built, or what was allocated is released and the exception thrown.
    /// </summary>
    /// <exception cref="MachineSpecException">the spec is invalid.</exception>
    /// <exception cref="ImageLoadException">the image cannot be loaded or overlaps the boot structures.</exception>
    public static MachineParts Build(IAccelerator accelerator, MachineSpec spec, IConsoleSink console, IPageFaultSink? lazyFaults = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(console);
        spec.Validate();
        var platform = spec.Image.Platform;
        if (platform == GuestPlatform.Pc && accelerator.Kind != AcceleratorKind.Kvm)
            throw new MachineSpecException(nameof(MachineSpec.Image),
                $"image '{spec.Image.Name}' needs the PC platform (in-kernel interrupt controllers and timers), which only KVM provides; the {accelerator.Kind} accelerator cannot run it");
        var mode = spec.EffectiveBootMode;
        int vcpuCount = spec.EffectiveVcpuCount;

        HostMemory? memory = null;
        LazyGuestMemory? lazy = null;
        IVirtualMachine? vm = null;
        var vcpus = new List<IVirtualCpu>();
        MachineVirtioDevices? virtio = null;
        try
        {
            memory = HostMemory.Allocate(spec.MemoryBytes, spec.MemoryBacking);
            var image = spec.Image.LoadInto(memory, spec.LoadAddress);
            foreach (var segment in image.Segments)
            {
                foreach (var (start, end, what) in GuestLayout.ReservedRanges(mode))
                {
                    if (segment.Overlaps(start, end))
                        throw new ImageLoadException(image.Name,
                            $"its bytes at [0x{segment.Address:x}, 0x{segment.End:x}) overlap {what} at [0x{start:x}, 0x{end:x}) ({mode} mode)");
                }
            }
            if (spec.Entry is { } entry) image = image with { Entry = entry };
            var boot = new BootSetup(mode, image.Entry, vcpuCount, HandoffFor(image, mode, vcpuCount));
            boot.WriteTables(memory);
            if (platform == GuestPlatform.Pc)
            {
                // Both descriptions of the platform: the MP table for a guest without ACPI (or booted with acpi=off), the
                // ACPI tables for one with it (Linux prefers them; only they announce the virtio-mmio devices to it).
                memory.Write(Images.Linux.LinuxBootLayout.MpTableAddress, MpTable.Build(Images.Linux.LinuxBootLayout.MpTableAddress, vcpuCount));
                var acpi = new AcpiSystemDescription(vcpuCount, MpTable.IoApicId(vcpuCount),
                    [.. Enumerable.Range(0, spec.VirtioDeviceCount).Select(i => (VirtioMmioLayout.AddressOf(i), VirtioMmioLayout.IrqOf(i)))]);
                var tables = AcpiTables.Build(AcpiTables.PcAddress, acpi);
                if (tables.Length > AcpiTables.PcRoom) throw new MachineSpecException(nameof(MachineSpec.Disks), $"the ACPI tables take {tables.Length} bytes; the PC platform has room for {AcpiTables.PcRoom}");
                memory.Write(AcpiTables.PcAddress, tables);
            }

            vm = accelerator.CreateVm();
            vm.SetMemoryRegion(Memslot.For(0, 0, memory));
            IPcPlatformVm? pc = null;
            if (platform == GuestPlatform.Pc)
            {
                pc = vm as IPcPlatformVm ?? throw new MachineSpecException(nameof(MachineSpec.Image), $"image '{spec.Image.Name}' needs the PC platform, which this {vm.Kind} VM does not provide");
                pc.CreatePcChipset();
                if (spec.Image is PcPlatformImage { FirmwareHandoff: true })
                {
                    // A kernel asked onto the PC platform gets what a BIOS would have left; a Linux kernel (which
                    // programs its chipset itself) boots as before.
                    if (!image.Segments.Any(s => s.Overlaps(GuestLayout.IvtBase, GuestLayout.IvtBase + 0x400) || s.Overlaps(Images.Linux.PcMemoryMap.BiosStart, Images.Linux.PcMemoryMap.HighMemoryStart)))
                        PcFirmwareHandoff.WriteInto(memory);
                    pc.ApplyFirmwareChipsetState();
                }
            }
            if (spec.LazyMemory is { } lazySpec)
            {
                // Anonymous memory: userfaultfd's missing mode on shared memory needs a feature not every kernel has.
                lazy = LazyGuestMemory.Create(lazySpec.Size, lazyFaults ?? new SynchronousPageResolver(lazySpec.Store), name: "lazy-guest-ram");
                vm.SetMemoryRegion(lazy.ToMemslot(LazyMemorySpec.Slot, lazySpec.GuestPhysicalAddress));
            }
            for (int i = 0; i < vcpuCount; i++)
            {
                var vcpu = vm.CreateVcpu(i);
                vcpus.Add(vcpu);
                // On the PC platform only the boot processor starts at the entry; the others wait for INIT-SIPI.
                pc?.PreparePcVcpu(vcpu, bootProcessor: i == 0);
                if (pc is null || i == 0) boot.Apply(vcpu);
            }

            var bus = new DeviceBus();
            var serial = new Uart16550(console, pc, Uart16550.Com1Irq);
            bus.RegisterPorts(Uart16550.Com1Port, Uart16550.PortCount, serial);
            var debugExit = new DebugExitDevice();
            bus.RegisterPorts(DebugExitDevice.DefaultPort, 1, debugExit);
            I8042Controller? i8042 = null;
            var platformDevices = new List<IPortIoDevice>();
            if (pc is not null)
            {
                (i8042, var pcDevices) = PcPlatformDevices.Register(bus, spec.MemoryBytes, vcpuCount);
                platformDevices.AddRange(pcDevices);
                if (spec.Image is PcPlatformImage { TestDevice: true })
                {
                    var testDev = new TestDevIrqPorts(pc);
                    bus.RegisterPorts(TestDevIrqPorts.BasePort, TestDevIrqPorts.LineCount, testDev);
                    platformDevices.Add(testDev);
                }
            }
            // The software accelerator's local APICs (KVM's live in the kernel with the PC platform's in-kernel irqchip).
            if (vm is SoftVm soft) bus.RegisterMmio(LocalApic.DefaultBase, LocalApic.WindowSize, soft.ApicWindow);
            virtio = MachineVirtioDevices.Build(spec, vm, pc, bus, spec.CountExitsAs ?? spec.Image.Name);
            List<SnapshotMemoryRegion> regions = [new(0, 0, memory)];
            if (lazy is not null) regions.Add(new(LazyMemorySpec.Slot, spec.LazyMemory!.GuestPhysicalAddress, lazy.Memory, lazy, spec.LazyMemory.Store));
            return new MachineParts(spec, memory, lazy, vm, [.. vcpus], image, boot, bus, serial, debugExit, i8042, platformDevices, regions, virtio: virtio);
        }
        catch
        {
            virtio?.Dispose();
            foreach (var v in vcpus) v.Dispose();
            vm?.Dispose();
            lazy?.Dispose();
            memory?.Dispose();
            throw;
        }
    }

    // The image's own handoff; in real mode the stack goes below the image unless the image says where.
    private static BootHandoff? HandoffFor(LoadedImage image, BootMode mode, int vcpuCount)
    {
        if (mode != BootMode.Real || image.Handoff?.StackTop is not null) return image.Handoff;
        ulong top = GuestLayout.RealModeStackTop(image.LowestAddress);
        if (top < (ulong)vcpuCount * GuestLayout.BootStackSize)
            throw new ImageLoadException(image.Name,
                $"loaded at 0x{image.LowestAddress:x} it leaves no room below it for {vcpuCount} real-mode boot stack(s) of 0x{GuestLayout.BootStackSize:x} bytes; load it higher");
        return (image.Handoff ?? new BootHandoff()) with { StackTop = top };
    }

    /// <summary>Disposes the virtio devices, the vCPUs, the VM, then guest RAM (lazy region included), in that order; once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Virtio.Dispose();
        foreach (var vcpu in _vcpus) vcpu.Dispose();
        Vm.Dispose();
        LazyMemory?.Dispose();
        Memory.Dispose();
        foreach (var resource in _owned) resource.Dispose();
    }
}
