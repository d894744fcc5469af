using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Metrics;

/// <summary>
/// The exit handler of a vCPU whose accelerator does not count its own exits: counts each port I/O and MMIO
/// access in that vCPU's <see cref="VcpuExitCounts"/> (one plain increment), then hands it to the real handler
/// (the device bus).
/// </summary>
public sealed class CountingExitHandler : IExitHandler
{
    private readonly IExitHandler _inner;
    private readonly VcpuExitCounts _counts;

    /// <summary>Counts into <paramref name="counts"/> and forwards to <paramref name="inner"/>.</summary>
    public CountingExitHandler(IExitHandler inner, VcpuExitCounts counts)
    {
        _inner = inner;
        _counts = counts;
    }

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
    {
        _counts.PortIo++;
        return _inner.OnPortIo(port, direction, data);
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
    {
        _counts.Mmio++;
        return _inner.OnMmio(gpa, isWrite, data);
    }
}
