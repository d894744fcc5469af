using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// A virtio interrupt through KVM_IRQFD: owns an eventfd routed to a GSI of the in-kernel irqchip, so that
/// <see cref="Trigger"/> is one eventfd write from the device's thread and the kernel injects the edge.
/// <see cref="Dispose"/> deassigns the route and closes the eventfd.
/// </summary>
public sealed class KvmIrqFdInterrupt : IVirtioInterrupt, IDisposable
{
    private readonly VmFd _vm;
    private readonly EventFd _event;
    private long _triggers;
    private int _disposed;

    /// <summary>Routes a new eventfd to <paramref name="gsi"/> of <paramref name="vm"/> (which needs its irqchip).</summary>
    public KvmIrqFdInterrupt(VmFd vm, uint gsi)
    {
        _vm = vm ?? throw new ArgumentNullException(nameof(vm));
        Gsi = gsi;
        _event = new EventFd($"irqfd-gsi{gsi}");
        try { vm.AssignIrqFd(_event.Descriptor, gsi); }
        catch
        {
            _event.Dispose();
            throw;
        }
    }

    /// <summary>The GSI.</summary>
    public uint Gsi { get; }

    /// <summary>Interrupts sent.</summary>
    public long Triggers => Interlocked.Read(ref _triggers);

    /// <inheritdoc />
    public void Trigger()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        Interlocked.Increment(ref _triggers);
        _event.Signal();
    }

    /// <summary>Deassigns the irqfd (if the VM is still open) and closes the eventfd; once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (!_vm.Descriptor.IsClosed)
        {
            try { _vm.DeassignIrqFd(_event.Descriptor, Gsi); }
            catch (SyscallException) { } // the VM is going away anyway; closing the eventfd releases the route
        }
        _event.Dispose();
    }
}
