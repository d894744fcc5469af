namespace Actorvisor.Hardware.Devices.Virtio;

/// <summary>
/// A virtio interrupt as a pulse (raise, then lower) on GSI <see cref="Irq"/> of an <see cref="IIrqLines"/>: the
/// edge-triggered ISA input Linux expects for a virtio-mmio device, and the path the interrupt takes when no
/// irqfd is available (it costs a KVM_IRQ_LINE pair from the device's thread, never the vCPU's).
/// </summary>
public sealed class IrqLinePulse : IVirtioInterrupt
{
    private readonly IIrqLines _lines;
    private long _pulses;

    /// <summary>Pulses <paramref name="irq"/> on <paramref name="lines"/>.</summary>
    public IrqLinePulse(IIrqLines lines, int irq)
    {
        _lines = lines ?? throw new ArgumentNullException(nameof(lines));
        ArgumentOutOfRangeException.ThrowIfNegative(irq);
        Irq = irq;
    }

    /// <summary>The GSI.</summary>
    public int Irq { get; }

    /// <summary>Pulses delivered.</summary>
    public long Pulses => Interlocked.Read(ref _pulses);

    /// <inheritdoc />
    public void Trigger()
    {
        Interlocked.Increment(ref _pulses);
        _lines.SetIrqLevel(Irq, true);
        _lines.SetIrqLevel(Irq, false);
    }
}
