namespace Actorvisor.Hardware.Devices;

/// <summary>A registered guest-physical MMIO range: [<see cref="Base"/>, <see cref="Base"/> + <see cref="Size"/>).</summary>
/// <param name="Base">First guest-physical address.</param>
/// <param name="Size">Size in bytes (at least 1).</param>
/// <param name="Device">The device that owns the range.</param>
public sealed record MmioRange(ulong Base, ulong Size, IMmioDevice Device)
{
    /// <summary>One past the last address.</summary>
    public ulong End => Base + Size;

    /// <summary>True if [start, end) shares a byte with this range.</summary>
    public bool Overlaps(ulong start, ulong end) => Base < end && start < End;

    /// <inheritdoc />
    public override string ToString() => $"MMIO [0x{Base:x}, 0x{End:x}) ({Device.Name})";
}
