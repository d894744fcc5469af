using System.Diagnostics;

namespace Actorvisor.Host.Bench;

/// <summary>
/// A fixed set of benchmark threads, started once and reused for every timed pass, so that each pass runs on
/// the same threads (no thread creation, no fresh stacks, the scheduler's placement kept) and each thread
/// takes its own wall-clock and CPU-time stamps around its share of the work.
/// </summary>
public sealed class BenchThreads : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _start;
    private readonly Barrier _done;
    private readonly long[] _began;
    private readonly long[] _ended;
    private readonly long[] _cpu;
    private Action<int>? _work;
    private int _active;
    private Exception? _failure;
    private volatile bool _stopping;

    /// <summary>Starts <paramref name="count"/> threads named <paramref name="name"/>-N, waiting for work.</summary>
    public BenchThreads(int count, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        _start = new Barrier(count + 1);
        _done = new Barrier(count + 1);
        _began = new long[count];
        _ended = new long[count];
        _cpu = new long[count];
        _threads = Enumerable.Range(0, count).Select(t => new Thread(() => Loop(t)) { Name = $"{name}-{t}", IsBackground = true }).ToArray();
        foreach (var thread in _threads) thread.Start();
    }

    /// <summary>The number of threads.</summary>
    public int Count => _threads.Length;

    /// <summary>
    /// Runs <paramref name="work"/>(t) on threads 0..<paramref name="active"/>-1 at once (the others sit this pass
    /// out) and returns the wall time from the first thread's start to the last one's end, and the CPU time the
    /// active threads used, summed.
    /// </summary>
    public (TimeSpan Wall, TimeSpan Cpu) Run(int active, Action<int> work)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(active, Count);
        _work = work;
        _active = active;
        _failure = null;
        _start.SignalAndWait();
        _done.SignalAndWait();
        if (_failure is { } failure) throw new InvalidOperationException($"a benchmark thread failed: {failure.Message}", failure);
        long first = long.MaxValue, last = long.MinValue, cpu = 0;
        for (int t = 0; t < active; t++)
        {
            first = Math.Min(first, _began[t]);
            last = Math.Max(last, _ended[t]);
            cpu += _cpu[t];
        }
        return (Stopwatch.GetElapsedTime(first, last), TimeSpan.FromTicks(cpu / 100));
    }

    private void Loop(int t)
    {
        while (true)
        {
            _start.SignalAndWait();
            if (_stopping) return;
            if (t < _active)
            {
                try
                {
                    long cpu = ThreadCpuClock.Nanoseconds();
                    _began[t] = Stopwatch.GetTimestamp();
                    _work!(t);
                    _ended[t] = Stopwatch.GetTimestamp();
                    _cpu[t] = ThreadCpuClock.Nanoseconds() - cpu;
                }
                catch (Exception e)
                {
                    _failure = e;
                }
            }
            _done.SignalAndWait();
        }
    }

    /// <summary>Ends the threads.</summary>
    public void Dispose()
    {
        _stopping = true;
        _start.SignalAndWait();
        foreach (var thread in _threads) thread.Join();
        _start.Dispose();
        _done.Dispose();
    }
}
