using System.Diagnostics;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The bandwidth limit of a migration's sender: a bucket that fills at <see cref="BytesPerSecond"/> up to a burst of a
/// tenth of a second's worth. Taking bytes may run it into debt; the caller then waits the time
/// <see cref="Take"/> returns before sending more, so over any stretch the sender keeps to the rate. One thread takes
/// at a time.
/// </summary>
public sealed class TokenBucket
{
    private readonly long _burst;
    private double _tokens;
    private long _last = Stopwatch.GetTimestamp();

    /// <summary>A bucket of <paramref name="bytesPerSecond"/>, full.</summary>
    public TokenBucket(long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        BytesPerSecond = bytesPerSecond;
        _burst = Math.Max(bytesPerSecond / 10, 1);
        _tokens = _burst;
    }

    /// <summary>The rate.</summary>
    public long BytesPerSecond { get; }

    /// <summary>Takes <paramref name="bytes"/>; returns how long to wait before the bucket is out of debt (zero if it is not in debt).</summary>
    public TimeSpan Take(long bytes)
    {
        long now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + Stopwatch.GetElapsedTime(_last, now).TotalSeconds * BytesPerSecond);
        _last = now;
        _tokens -= bytes;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / BytesPerSecond);
    }
}
