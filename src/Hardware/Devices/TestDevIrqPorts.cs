using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// The interrupt-line ports of a PC test device (the convention of QEMU's pc-testdev that conformance kernels such
/// as kvm-unit-tests' ioapic and realmode use): a write of N to port <see cref="BasePort"/> + line sets ISA/GSI
/// <c>line</c> to level N != 0 on the VM's interrupt controllers; reads return 0. Owns nothing but the lines it
/// forwards to; only for test kernels (a real PC has nothing there).
/// </summary>
public sealed class TestDevIrqPorts(IIrqLines lines) : IPortIoDevice
{
    /// <summary>The port of line 0.</summary>
    public const ushort BasePort = 0x2000;

    /// <summary>Lines (and ports) served: the IOAPIC's 24 inputs.</summary>
    public const int LineCount = 24;

    private readonly IIrqLines _lines = lines ?? throw new ArgumentNullException(nameof(lines));

    /// <inheritdoc />
    public string Name => "testdev-irq";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.In)
        {
            data.Clear();
            return ExitAction.Continue;
        }
        bool asserted = data.IndexOfAnyExcept((byte)0) >= 0;
        _lines.SetIrqLevel(offset, asserted);
        return ExitAction.Continue;
    }
}
