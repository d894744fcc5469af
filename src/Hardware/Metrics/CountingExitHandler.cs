using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Metrics;

/// <summary>
/// The exit handler one vCPU runs with when its exits are counted: counts each port I/O and MMIO exit in that
/// vCPU's <see cref="VcpuExitCounters"/> (one plain increment), then hands it to the real handler (the device bus).
/// </summary>
public sealed class CountingExitHandler : IExitHandler
{
    private readonly IExitHandler _inner;
    private readonly VcpuExitCounters _counters;

    /// <summary>Counts into <paramref name="counters"/> and forwards to <paramref name="inner"/>.</summary>
    public CountingExitHandler(IExitHandler inner, VcpuExitCounters counters)
    {
        _inner = inner;
        _counters = counters;
    }

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
    {
        _counters.CountPortIo();
        return _inner.OnPortIo(port, direction, data);
    }

    /// <inheritdoc />
    public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data)
    {
        _counters.CountMmio();
        return _inner.OnMmio(gpa, isWrite, data);
    }
}
