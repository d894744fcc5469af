using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>Port 0x80, the POST diagnostic port that old code writes to for a short I/O delay: writes are counted and ignored, reads return all-ones.</summary>
public sealed class PostCodePort : IPortIoDevice
{
    /// <summary>The port.</summary>
    public const ushort Port = 0x80;

    private long _writes;

    /// <inheritdoc />
    public string Name => "post-code";

    /// <summary>Writes seen.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.In) data.Fill(0xff);
        else Interlocked.Increment(ref _writes);
        return ExitAction.Continue;
    }
}
