using System.Globalization;

namespace Actorvisor.Host.Bench;

/// <summary>
/// One kernel thread's scheduler accounting, read from /proc/self/task/TID/schedstat (Documentation/scheduler/
/// sched-stats.rst: time on a CPU, time runnable but waiting on a run queue, timeslices): owns the thread id and
/// reads the two times as seconds. A benchmark uses the run-queue wait to tell the time a host CPU was taken from a
/// vCPU thread by other processes from the time the vCPU itself computed or waited for a page.
/// </summary>
public sealed class ThreadSchedStat(int threadId)
{
    /// <summary>The kernel thread id (gettid) read.</summary>
    public int ThreadId { get; } = threadId;

    /// <summary>
    /// (seconds on a CPU, seconds runnable on a run queue) so far; null when the kernel keeps no such file (no
    /// CONFIG_SCHED_INFO) or the thread has ended.
    /// </summary>
    public (double OnCpu, double Queued)? Read()
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/self/task/{ThreadId.ToString(CultureInfo.InvariantCulture)}/schedstat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        return Parse(text);
    }

    /// <summary>The two times of a schedstat line ("ON_CPU_NS QUEUED_NS SLICES"); null if it is not one.</summary>
    public static (double OnCpu, double Queued)? Parse(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length < 2
            || !ulong.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong onCpu)
            || !ulong.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong queued)) return null;
        return (onCpu / 1e9, queued / 1e9);
    }
}
