using System.Text;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Decodes guest console bytes as UTF-8 and forwards the text to a <see cref="TextWriter"/>
/// (<see cref="Console.Out"/>, a test output helper), flushing at each newline.
/// </summary>
public sealed class TextWriterConsoleSink(TextWriter writer) : IConsoleSink
{
    private readonly object _gate = new();
    private readonly TextWriter _writer = writer ?? throw new ArgumentNullException(nameof(writer));
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[256];

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            bool newline = bytes.Contains((byte)'\n');
            while (!bytes.IsEmpty)
            {
                int take = Math.Min(bytes.Length, _chars.Length / 2);
                int n = _decoder.GetChars(bytes[..take], _chars, flush: false);
                _writer.Write(_chars, 0, n);
                bytes = bytes[take..];
            }
            if (newline) _writer.Flush();
        }
    }
}
