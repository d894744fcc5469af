namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// Wraps a store and makes it slow and, on request, unreliable: every read waits <see cref="Latency"/> first
/// (like a remote or cold store); reads of pages marked with <see cref="FailPage"/>, every read once
/// <see cref="FailEveryRead"/> was called, or a random share of reads (<see cref="FailureProbability"/>), fail
/// after the wait. The latency can be changed while reads run. Counts reads and the most reads in flight at
/// once, so tests can check how many workers really ran together.
/// </summary>
public sealed class SlowBackingStore : IBackingStore
{
    private readonly IBackingStore _inner;
    private readonly Dictionary<ulong, int> _failuresLeft = new();
    private readonly Random _random;
    private long _reads, _failures, _latencyTicks;
    private int _inFlight, _maxInFlight;
    private string? _failEvery;

    /// <summary>Wraps <paramref name="inner"/> with <paramref name="latency"/> per read.</summary>
    /// <param name="inner">The store that produces the data.</param>
    /// <param name="latency">Delay before each read (Task.Delay: about 1 ms granularity).</param>
    /// <param name="failureProbability">Share of reads, 0 to 1, that fail (after the delay).</param>
    /// <param name="seed">Seed of the random failures, for reproducible runs.</param>
    public SlowBackingStore(IBackingStore inner, TimeSpan latency, double failureProbability = 0, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (latency < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(latency), $"latency {latency} is negative");
        if (failureProbability is < 0 or > 1 || double.IsNaN(failureProbability))
            throw new ArgumentOutOfRangeException(nameof(failureProbability), $"failure probability {failureProbability} is not between 0 and 1");
        _inner = inner;
        _latencyTicks = latency.Ticks;
        FailureProbability = failureProbability;
        _random = new Random(seed);
    }

    /// <summary>The delay before each read; a change applies to reads that start after it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">set to a negative value.</exception>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set
        {
            if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), $"latency {value} is negative");
            Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }
    }

    /// <summary>True once <see cref="FailEveryRead"/> was called.</summary>
    public bool FailsEveryRead => Volatile.Read(ref _failEvery) is not null;

    /// <summary>The share of reads that fail at random.</summary>
    public double FailureProbability { get; }

    /// <inheritdoc />
    public string Description => $"slow({Latency.TotalMilliseconds} ms) {_inner.Description}";

    /// <summary>Reads started.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Reads that failed by injection.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Reads in progress now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most reads that were in progress at the same time.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Makes the next <paramref name="times"/> reads of page <paramref name="pageIndex"/> fail (default: all of them).</summary>
    public void FailPage(ulong pageIndex, int times = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        lock (_failuresLeft) _failuresLeft[pageIndex] = times;
    }

    /// <summary>
    /// From now on every read fails (after the wait), as when a remote store goes away; the error names
    /// <paramref name="why"/>. Reads already past their wait are not affected.
    /// </summary>
    public void FailEveryRead(string why = "the store fails every read")
    {
        ArgumentException.ThrowIfNullOrEmpty(why);
        Volatile.Write(ref _failEvery, why);
    }

    /// <inheritdoc />
    public async ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        int now = Interlocked.Increment(ref _inFlight);
        for (int max = Volatile.Read(ref _maxInFlight); now > max; max = Volatile.Read(ref _maxInFlight))
            if (Interlocked.CompareExchange(ref _maxInFlight, now, max) == max) break;
        try
        {
            var latency = Latency;
            if (latency > TimeSpan.Zero) await Task.Delay(latency, cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref _failEvery) is { } why)
            {
                Interlocked.Increment(ref _failures);
                throw new BackingStoreException($"{Description}: reading page {pageIndex} failed: {why}");
            }
            if (ShouldFail(pageIndex))
            {
                Interlocked.Increment(ref _failures);
                throw new BackingStoreException($"{Description}: injected failure reading page {pageIndex}");
            }
            return await _inner.ReadPageAsync(pageIndex, page, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private bool ShouldFail(ulong pageIndex)
    {
        lock (_failuresLeft)
        {
            if (_failuresLeft.TryGetValue(pageIndex, out int left))
            {
                if (left <= 1) _failuresLeft.Remove(pageIndex);
                else if (left != int.MaxValue) _failuresLeft[pageIndex] = left - 1;
                return true;
            }
            return FailureProbability > 0 && _random.NextDouble() < FailureProbability;
        }
    }
}
