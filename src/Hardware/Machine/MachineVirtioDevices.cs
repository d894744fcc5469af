using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Devices.Virtio.Vsock;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Metrics;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// The virtio-mmio devices of one machine (its <see cref="MachineSpec.Disks"/>, then its <see cref="MachineSpec.Nets"/>, then
/// its <see cref="MachineSpec.Vsock"/>), each a transport on the device bus
/// at its <see cref="VirtioMmioLayout"/> slot, and how they reach the guest. On KVM each queue's QueueNotify write is a
/// KVM_IOEVENTFD (data-matched on the queue index) that wakes the device's own I/O thread instead of the vCPU thread,
/// and with the PC chipset each interrupt is a KVM_IRQFD write. On the software accelerator the notify write is an
/// MMIO exit handled by the transport. Without interrupt lines (no PC chipset) the guest polls the used ring. Owns the devices (their image
/// files and taps), the eventfds and the devices' I/O threads.
/// </summary>
public sealed class MachineVirtioDevices : IDisposable
{
    private readonly VirtioMmioTransport[] _transports;
    private readonly List<IDisposable> _owned;
    private readonly EventFdPoller[] _pollers;
    private int _disposed;
    private string? _meteredAs;

    private MachineVirtioDevices(VirtioMmioTransport[] transports, List<IDisposable> owned, EventFdPoller[] pollers)
    {
        _transports = transports;
        _owned = owned;
        _pollers = pollers;
    }

    /// <summary>A machine without virtio devices.</summary>
    public static MachineVirtioDevices None => new([], [], []);

    /// <summary>The transports: disk i at index i, then the network cards.</summary>
    public IReadOnlyList<VirtioMmioTransport> Transports => _transports;

    /// <summary>True if queue notifications and interrupts go through KVM's ioeventfd and irqfd.</summary>
    public bool UsesEventFds => _pollers.Length > 0;

    /// <summary>Queue notifications that reached a vCPU thread as an MMIO exit (0 when ioeventfds take them all).</summary>
    public long NotifyExitsToVcpu => _transports.Sum(t => t.NotifyExits);

    /// <summary>The VM name the devices' notify exits are exported under (<see cref="MachineSpec.CountExitsAs"/>), or null.</summary>
    public string? MeteredAs => _meteredAs;

    /// <summary>Notifications the devices' ioeventfd pollers took.</summary>
    public long EventFdNotifications => _pollers.Sum(p => p.Wakeups);

    /// <summary>
    /// Builds the devices of <paramref name="spec"/>'s disks and registers them on <paramref name="bus"/>. Either every
    /// device is built, or what was made is released and the exception thrown.
    /// </summary>
    /// <exception cref="ConfinedPathException">a disk image cannot be opened.</exception>
    /// <exception cref="SyscallException">a tap cannot be opened or created.</exception>
    public static MachineVirtioDevices Build(MachineSpec spec, IVirtualMachine vm, IPcPlatformVm? pc, DeviceBus bus, string name)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Build(spec.Disks, spec.Nets, spec.Vsock, vm, pc, bus, name, spec.CountExitsAs);
    }

    /// <summary>
    /// Builds the devices <paramref name="disks"/> (disk i at virtio-mmio slot i), then <paramref name="nets"/>, then
    /// <paramref name="vsock"/> if given, and registers them on <paramref name="bus"/>. Either every device is built, or
    /// what was made is released and the exception thrown. <paramref name="meteredAs"/> names the VM the notify exits
    /// are exported under.
    /// </summary>
    /// <exception cref="ConfinedPathException">a disk image cannot be opened.</exception>
    /// <exception cref="SyscallException">a tap cannot be opened or created.</exception>
    public static MachineVirtioDevices Build(IReadOnlyList<VirtioDiskSpec> disks, IReadOnlyList<VirtioNetSpec> nets, VirtioVsockSpec? vsock,
        IVirtualMachine vm, IPcPlatformVm? pc, DeviceBus bus, string name, string? meteredAs = null)
    {
        ArgumentNullException.ThrowIfNull(disks);
        ArgumentNullException.ThrowIfNull(nets);
        if (disks.Count + nets.Count + (vsock is null ? 0 : 1) == 0) return None;
        var memory = new GuestPhysicalMemory(() => vm.Memslots);
        var kvm = vm as KvmVirtualMachine;
        var owned = new List<IDisposable>();
        var transports = new List<VirtioMmioTransport>();
        var pollers = new List<EventFdPoller>();
        VirtioMmioTransport Add(IVirtioDevice device)
        {
            int i = transports.Count;
            ulong address = VirtioMmioLayout.AddressOf(i);
            int irq = VirtioMmioLayout.IrqOf(i);
            IVirtioInterrupt? interrupt = null;
            if (kvm is { HasPcChipset: true })
            {
                var irqFd = new KvmIrqFdInterrupt(kvm.Fd, (uint)irq);
                owned.Add(irqFd);
                interrupt = irqFd;
            }
            else if (pc is not null)
            {
                interrupt = new IrqLinePulse(pc, irq);
            }
            var transport = new VirtioMmioTransport(device, memory, interrupt);
            owned.Add(transport); // disposing the transport disposes the device (image file, tap, socket), after any round in progress
            transports.Add(transport);
            bus.RegisterMmio(address, VirtioMmioRegister.WindowSize, transport);
            if (kvm is null) return transport;
            // Each device's own I/O loop: a thread that sleeps on its queues' ioeventfds and serves a notified queue
            // there (VirtioMmioTransport.NotifyOnIoThread), so a guest request wakes one host thread, not two.
            var notifies = new List<(EventFd, Action)>();
            for (int q = 0; q < transport.QueueCount; q++)
            {
                var notify = new IoEventFdRegistration(kvm.Fd, address + VirtioMmioRegister.QueueNotify, (ulong)q, $"{name}/{device.Name}/q{q}");
                owned.Add(notify);
                int queue = q;
                notifies.Add((notify.Event, () => transport.NotifyOnIoThread(queue)));
            }
            pollers.Add(new EventFdPoller(notifies, $"{name}/{device.Name}/io"));
            return transport;
        }
        try
        {
            for (int i = 0; i < disks.Count; i++)
            {
                var disk = disks[i];
                AddOrDispose(new VirtioBlock(disk.Open(), disk.ReadOnly, $"vd{(char)('a' + i)}"), Add);
            }
            for (int i = 0; i < nets.Count; i++)
            {
                var net = nets[i];
                var tap = TapDevice.Open(net.Tap);
                var card = new VirtioNet(tap, net.EffectiveMac, $"net{i}");
                var transport = AddOrDispose(card, Add);
                // A frame arriving on the tap is a receive-queue notification like the guest's own, taken by the card's
                // own tap thread, which serves the first round itself (never a vCPU thread).
                card.StartTapWatch(() => transport.NotifyOnIoThread(VirtioNet.ReceiveQueue));
            }
            if (vsock is not null)
            {
                var device = vsock.Open();
                var transport = AddOrDispose(device, Add);
                // The vsock device's socket thread asks for RX rounds through the same path as a notification.
                device.SetServiceRequest(() => transport.Notify(VirtioVsock.RxQueue));
            }
            var devices = new MachineVirtioDevices([.. transports], owned, [.. pollers]) { _meteredAs = meteredAs };
            if (devices._meteredAs is not null) HardwareMeter.Register(devices);
            return devices;
        }
        catch
        {
            foreach (var p in pollers) p.Dispose();
            for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
            throw;
        }
    }

    // The device is the transport's once the transport exists; until then this disposes it if adding fails.
    private static VirtioMmioTransport AddOrDispose(IVirtioDevice device, Func<IVirtioDevice, VirtioMmioTransport> add)
    {
        try { return add(device); }
        catch
        {
            (device as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Stops the poller, removes the ioeventfd and irqfd routes, closes the image files; once. Call before the VM is disposed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_meteredAs is not null) HardwareMeter.Unregister(this);
        foreach (var p in _pollers) p.Dispose();
        foreach (var t in _transports)
        {
            t.SetNotifySink(null);
            (t.Device as VirtioVsock)?.SetServiceRequest(null);
        }
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
    }

    /// <summary>One KVM_IOEVENTFD: a 4-byte write of the queue index to the notify register; deassigned on dispose.</summary>
    private sealed class IoEventFdRegistration : IDisposable
    {
        private readonly VmFd _vm;
        private readonly ulong _address, _queue;

        public IoEventFdRegistration(VmFd vm, ulong address, ulong queue, string what)
        {
            _vm = vm;
            _address = address;
            _queue = queue;
            Event = new EventFd(what);
            try { vm.AssignIoEventFd(Event.Descriptor, address, 4, queue); }
            catch
            {
                Event.Dispose();
                throw;
            }
        }

        public EventFd Event { get; }

        public void Dispose()
        {
            if (!_vm.Descriptor.IsClosed)
            {
                try { _vm.DeassignIoEventFd(Event.Descriptor, _address, 4, _queue); }
                catch (SyscallException) { } // closing the eventfd with the VM releases it anyway
            }
            Event.Dispose();
        }
    }
}
