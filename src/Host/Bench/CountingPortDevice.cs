using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Host.Bench;

/// <summary>A port device that only counts the writes it receives: the cheapest real device for the exit benchmark.</summary>
public sealed class CountingPortDevice : IPortIoDevice
{
    private long _writes;

    /// <inheritdoc />
    public string Name => "bench-counter";

    /// <summary>Writes seen so far (read after the run: one vCPU thread writes).</summary>
    public long Writes => Volatile.Read(ref _writes);

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.Out) _writes++;
        else data.Fill(0);
        return ExitAction.Continue;
    }
}
