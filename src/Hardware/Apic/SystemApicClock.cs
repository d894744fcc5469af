using System.Diagnostics;

namespace Actorvisor.Hardware.Apic;

/// <summary>
/// The host's clock (<see cref="Stopwatch"/>) and host timers (<see cref="System.Threading.Timer"/>, about 1 ms
/// resolution on Linux) as an <see cref="IApicClock"/>: what drives the APIC timer of a running VM.
/// </summary>
public sealed class SystemApicClock : IApicClock
{
    /// <summary>The one instance (it has no state).</summary>
    public static SystemApicClock Instance { get; } = new();

    private SystemApicClock() { }

    /// <inheritdoc />
    public long NowNanoseconds => (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));

    /// <inheritdoc />
    public IDisposable Schedule(long dueNanoseconds, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        long delayNs = Math.Max(0, dueNanoseconds - NowNanoseconds);
        // Round up: a timer must not fire before its due time (the current count would still read non-zero).
        var delay = TimeSpan.FromTicks((delayNs + 99) / 100);
        return new Timer(_ => callback(), null, delay, Timeout.InfiniteTimeSpan);
    }
}
