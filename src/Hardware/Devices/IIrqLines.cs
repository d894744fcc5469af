namespace Actorvisor.Hardware.Devices;

/// <summary>
/// The interrupt lines devices drive: on KVM's PC platform the in-kernel PIC and IOAPIC inputs (KVM_IRQ_LINE).
/// A device sets a line's level; the controller sees an edge-triggered ISA interrupt on each 0 -> 1 change.
/// Thread-safe.
/// </summary>
public interface IIrqLines
{
    /// <summary>Sets GSI <paramref name="irq"/> to <paramref name="asserted"/>.</summary>
    void SetIrqLevel(int irq, bool asserted);
}
