using System.Text;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Host.Bench;

/// <summary>
/// A console sink that passes every byte on to another sink and hands each completed line (ASCII, without its line end)
/// to a callback as it arrives, on the thread that wrote it (the vCPU's): owns the partial line. A benchmark uses it to
/// act the moment the guest prints a marker, not after the run.
/// </summary>
public sealed class LineWatchingConsoleSink(IConsoleSink inner, Action<string> onLine) : IConsoleSink
{
    private readonly StringBuilder _line = new();

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        inner.Write(bytes);
        foreach (byte b in bytes)
        {
            if (b == '\n')
            {
                onLine(_line.ToString().TrimEnd('\r'));
                _line.Clear();
            }
            else if (_line.Length < 4096)
            {
                _line.Append((char)b);
            }
        }
    }
}
