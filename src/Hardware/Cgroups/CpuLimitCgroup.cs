using System.Globalization;

namespace Actorvisor.Hardware.Cgroups;

/// <summary>
/// One threaded cgroup v2 directory with a <c>cpu.max</c> limit: the threads added to it share at most
/// <see cref="Cores"/> of a CPU (quota per 100 ms period). Made by <see cref="CpuLimitCgroups.Create"/>; disposing it
/// moves any thread still in it back to the parent and removes the directory.
/// </summary>
public sealed class CpuLimitCgroup : IThreadGroup
{
    /// <summary>The cpu.max period: 100 ms, the kernel's default.</summary>
    public const int PeriodMicroseconds = 100_000;

    private readonly string _parent;
    private bool _disposed;

    internal CpuLimitCgroup(string path, string parent, double cores)
    {
        Path = path;
        _parent = parent;
        Cores = cores;
    }

    /// <summary>The cgroup's directory.</summary>
    public string Path { get; }

    /// <summary>The limit in CPUs (0.5 is half of one core).</summary>
    public double Cores { get; }

    /// <summary>The quota per period written to cpu.max, in microseconds (at least the kernel's minimum, 1 ms).</summary>
    public long QuotaMicroseconds => QuotaOf(Cores);

    internal static long QuotaOf(double cores) => Math.Max(1000, (long)Math.Round(cores * PeriodMicroseconds));

    /// <inheritdoc />
    /// <exception cref="IOException">the kernel refused the move (the thread is gone, or the cgroup is no longer writable).</exception>
    public void Add(int kernelThreadId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CgroupFiles.Write(System.IO.Path.Combine(Path, "cgroup.threads"), kernelThreadId.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The CPU time the group's threads have used, from cpu.stat's usage_usec.</summary>
    public TimeSpan Usage => TimeSpan.FromMicroseconds(CgroupFiles.ReadStat(System.IO.Path.Combine(Path, "cpu.stat"), "usage_usec"));

    /// <summary>The cpu.max periods the group has seen (cpu.stat's nr_periods).</summary>
    public long Periods => CgroupFiles.ReadStat(System.IO.Path.Combine(Path, "cpu.stat"), "nr_periods");

    /// <summary>The periods in which the group ran into its quota and was held (cpu.stat's nr_throttled).</summary>
    public long ThrottledPeriods => CgroupFiles.ReadStat(System.IO.Path.Combine(Path, "cpu.stat"), "nr_throttled");

    /// <summary>The kernel thread ids in the group now (cgroup.threads).</summary>
    public IReadOnlyList<int> Threads => CgroupFiles.ReadIds(System.IO.Path.Combine(Path, "cgroup.threads"));

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Threads that have not ended (a vCPU thread still winding down) go back to the parent: a cgroup with threads cannot be removed.
        try
        {
            foreach (var tid in Threads)
            {
                try { CgroupFiles.Write(System.IO.Path.Combine(_parent, "cgroup.threads"), tid.ToString(CultureInfo.InvariantCulture)); }
                catch (IOException) { } // it ended meanwhile
            }
            Directory.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind (an empty cgroup costs nothing and the next node start with this name reuses it).
        }
    }
}
