namespace Actorvisor.Hardware.Devices;

/// <summary>Passes guest console bytes to several sinks in order (e.g. capture for tests and a log file).</summary>
public sealed class FanOutConsoleSink : IConsoleSink
{
    private readonly IConsoleSink[] _sinks;

    /// <summary>A sink writing to each of <paramref name="sinks"/>.</summary>
    public FanOutConsoleSink(params IConsoleSink[] sinks)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        for (int i = 0; i < sinks.Length; i++)
            if (sinks[i] is null) throw new ArgumentNullException(nameof(sinks), $"sink {i} is null");
        _sinks = (IConsoleSink[])sinks.Clone();
    }

    /// <summary>The sinks written to.</summary>
    public IReadOnlyList<IConsoleSink> Sinks => _sinks;

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        foreach (var s in _sinks) s.Write(bytes);
    }
}
