namespace Actorvisor.Hardware.Devices;

/// <summary>A registered run of I/O ports: [<see cref="Base"/>, <see cref="Base"/> + <see cref="Count"/>).</summary>
/// <param name="Base">First port.</param>
/// <param name="Count">Number of ports (1..65536).</param>
/// <param name="Device">The device that owns the ports.</param>
public sealed record PortRange(ushort Base, int Count, IPortIoDevice Device)
{
    /// <summary>One past the last port (may be 65536).</summary>
    public int End => Base + Count;

    /// <summary>True if the two ranges share a port.</summary>
    public bool Overlaps(int start, int end) => Base < end && start < End;

    /// <inheritdoc />
    public override string ToString() => $"ports 0x{Base:x}-0x{End - 1:x} ({Device.Name})";
}
