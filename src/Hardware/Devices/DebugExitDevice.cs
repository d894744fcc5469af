using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Lets a guest end its run with a result code, like QEMU's isa-debug-exit device: a write of 1, 2 or 4
/// bytes to the port records the value (its low byte is the result code) and stops the writing vCPU's run
/// loop (<see cref="ExitAction.Stop"/>). The first write wins; later ones are counted but do not change
/// the result. Reads return all-ones and are otherwise ignored.
/// </summary>
public sealed class DebugExitDevice : IPortIoDevice
{
    /// <summary>The port QEMU's isa-debug-exit uses by default and Actorvisor's guests write to.</summary>
    public const ushort DefaultPort = 0xf4;

    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _value = -1; // -1: not written yet; otherwise the 32-bit value written
    private long _writes;

    /// <inheritdoc />
    public string Name => "debug-exit";

    /// <summary>True once the guest has written its result.</summary>
    public bool HasExited => Interlocked.Read(ref _value) >= 0;

    /// <summary>The full value of the first write (little-endian, zero-extended), or null.</summary>
    public uint? Value
    {
        get
        {
            long v = Interlocked.Read(ref _value);
            return v < 0 ? null : (uint)v;
        }
    }

    /// <summary>The guest's result code: the low byte of the first value written, or null before any write.</summary>
    public int? ResultCode => Value is { } v ? (int)(v & 0xff) : null;

    /// <summary>Number of writes, including ignored later ones.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Completes with the result code on the first write.</summary>
    public Task<int> Exited => _exited.Task;

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        if (direction == IoDirection.In)
        {
            data.Fill(0xff);
            return ExitAction.Continue;
        }
        Interlocked.Increment(ref _writes);
        uint value = 0;
        for (int i = Math.Min(data.Length, 4) - 1; i >= 0; i--) value = value << 8 | data[i];
        if (Interlocked.CompareExchange(ref _value, value, -1) == -1) _exited.TrySetResult((int)(value & 0xff));
        return ExitAction.Stop;
    }
}
