using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>A memory image file with random content in the temp folder, deleted on dispose.</summary>
public sealed class TempImage : IDisposable
{
    public TempImage(int pages, int seed = 42)
    {
        Bytes = new byte[pages * 4096];
        new Random(seed).NextBytes(Bytes);
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"actorvisor-asyncpf-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(Path, Bytes);
    }

    public string Path { get; }
    public byte[] Bytes { get; }

    public void Dispose() => File.Delete(Path);
}

/// <summary>
/// A store whose reads of some pages (<c>held</c>) wait until <see cref="Release"/> or until cancelled; the other
/// pages answer at once from the inner store. Counts reads in flight (all and held) and the most at once, and
/// signals the first read of a held page.
/// </summary>
public sealed class HeldPagesStore(IBackingStore inner, Func<ulong, bool> held) : IBackingStore
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<ulong> _releasedPages = new();
    private readonly Dictionary<ulong, TaskCompletionSource> _pageGates = new();
    private int _inFlight, _maxInFlight, _heldInFlight;
    private long _reads, _readsAfterClose;

    private readonly List<(int Count, TaskCompletionSource Reached)> _heldReadWaiters = new();
    private int _heldReadsStarted;

    /// <summary>Set when the first read of a held page starts.</summary>
    public TaskCompletionSource HeldReadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once <paramref name="count"/> reads of held pages have started.</summary>
    public Task HeldReadsStarted(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_heldReadWaiters)
        {
            if (_heldReadsStarted >= count) reached.SetResult();
            else _heldReadWaiters.Add((count, reached));
        }
        return reached.Task;
    }

    /// <summary>Reads that started after <see cref="ClosedRegion"/> was torn down (a worker left running).</summary>
    public long ReadsAfterClose => Interlocked.Read(ref _readsAfterClose);

    /// <summary>The region whose teardown <see cref="ReadsAfterClose"/> watches.</summary>
    public LazyGuestMemory? ClosedRegion { get; set; }

    public long Reads => Interlocked.Read(ref _reads);
    public int InFlight => Volatile.Read(ref _inFlight);
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);
    public int HeldInFlight => Volatile.Read(ref _heldInFlight);

    /// <inheritdoc />
    public string Description => $"held({inner.Description})";

    /// <summary>Lets every held read (and every later one) complete.</summary>
    public void Release() => _released.TrySetResult();

    /// <summary>Lets the held reads of <paramref name="page"/> (and later ones) complete.</summary>
    public void Release(ulong page)
    {
        lock (_pageGates)
        {
            _releasedPages.Add(page);
            if (_pageGates.Remove(page, out var gate)) gate.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        if (ClosedRegion is { IsClosed: true }) Interlocked.Increment(ref _readsAfterClose);
        int now = Interlocked.Increment(ref _inFlight);
        for (int max = Volatile.Read(ref _maxInFlight); now > max; max = Volatile.Read(ref _maxInFlight))
            if (Interlocked.CompareExchange(ref _maxInFlight, now, max) == max) break;
        try
        {
            if (held(pageIndex))
            {
                Interlocked.Increment(ref _heldInFlight);
                try
                {
                    HeldReadStarted.TrySetResult();
                    lock (_heldReadWaiters)
                    {
                        _heldReadsStarted++;
                        foreach (var w in _heldReadWaiters.Where(w => w.Count <= _heldReadsStarted).ToList())
                        {
                            w.Reached.SetResult();
                            _heldReadWaiters.Remove(w);
                        }
                    }
                    Task gate;
                    lock (_pageGates)
                    {
                        if (_releasedPages.Contains(pageIndex)) gate = Task.CompletedTask;
                        else
                        {
                            if (!_pageGates.TryGetValue(pageIndex, out var tcs)) _pageGates[pageIndex] = tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
                            gate = tcs.Task;
                        }
                    }
                    await Task.WhenAny(gate, _released.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _heldInFlight);
                }
            }
            return await inner.ReadPageAsync(pageIndex, page, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}

/// <summary>A store that waits a random time (0 to <c>maxDelay</c>, seeded) before each read of the inner store.</summary>
public sealed class JitteryStore(IBackingStore inner, TimeSpan maxDelay, int seed) : IBackingStore
{
    private readonly Random _random = new(seed);

    /// <inheritdoc />
    public string Description => $"jittery({inner.Description})";

    /// <inheritdoc />
    public async ValueTask<PageContent> ReadPageAsync(ulong pageIndex, Memory<byte> page, CancellationToken cancellationToken = default)
    {
        int roll;
        lock (_random) roll = _random.Next(4);
        TimeSpan delay;
        lock (_random) delay = TimeSpan.FromTicks((long)(_random.NextDouble() * maxDelay.Ticks));
        // A quarter of the reads answer at once, a quarter yield, the rest wait: completions race every way.
        if (roll == 1) await Task.Yield();
        else if (roll >= 2) await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        return await inner.ReadPageAsync(pageIndex, page, cancellationToken).ConfigureAwait(false);
    }
}
