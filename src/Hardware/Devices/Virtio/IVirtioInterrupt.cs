namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// How a virtio-mmio device interrupts its guest: one edge per event (the transport keeps the InterruptStatus bits
/// the driver reads and acknowledges). On KVM it is an irqfd write, elsewhere a pulse on an <see cref="IIrqLines"/>
/// GSI. Thread-safe.
/// </summary>
public interface IVirtioInterrupt
{
    /// <summary>Delivers one interrupt edge.</summary>
    void Trigger();
}
