namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Forwards guest console bytes unchanged to a <see cref="Stream"/> (a log file, stdout), flushing at each
/// newline so that an interactive reader sees whole lines promptly.
/// </summary>
public sealed class StreamConsoleSink(Stream stream, bool flushOnNewline = true) : IConsoleSink
{
    private readonly object _gate = new();
    private readonly Stream _stream = stream ?? throw new ArgumentNullException(nameof(stream));

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            _stream.Write(bytes);
            if (flushOnNewline && bytes.Contains((byte)'\n')) _stream.Flush();
        }
    }
}
