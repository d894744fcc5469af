using Actorvisor.Hardware.Devices;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Carries serial console output from the vCPU threads (where the UART runs inline) to the VmActor without
/// a message per byte: writers append to a buffer and wake the actor once; the actor drains everything
/// written so far. Bursts coalesce into one message; a quiet console delivers each write promptly.
/// </summary>
public sealed class ConsoleRelay : IConsoleSink
{
    private readonly object _gate = new();
    private readonly Action _wake;
    private byte[] _buffer = new byte[256];
    private int _length;
    private bool _wakePending;

    /// <summary>A relay that calls <paramref name="wake"/> (once until the next <see cref="Drain"/>) when output arrives.</summary>
    public ConsoleRelay(Action wake) => _wake = wake;

    /// <summary>Appends guest output. Thread-safe; never blocks on the reader.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        bool wake;
        lock (_gate)
        {
            if (_length + bytes.Length > _buffer.Length)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes.Length));
            bytes.CopyTo(_buffer.AsSpan(_length));
            _length += bytes.Length;
            wake = !_wakePending;
            _wakePending = true;
        }
        if (wake) _wake();
    }

    /// <summary>Takes everything written so far (empty if nothing).</summary>
    public byte[] Drain()
    {
        lock (_gate)
        {
            _wakePending = false;
            if (_length == 0) return [];
            var bytes = _buffer.AsSpan(0, _length).ToArray();
            _length = 0;
            return bytes;
        }
    }
}
