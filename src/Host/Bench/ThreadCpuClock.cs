using System.Runtime.InteropServices;

namespace Actorvisor.Host.Bench;

/// <summary>
/// The calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)): unlike the wall clock it does not run
/// while the thread is preempted, so a benchmark can show how much of a timed region the machine's load took.
/// </summary>
public static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <summary>CPU time the calling thread has used, in nanoseconds.</summary>
    public static long Nanoseconds()
    {
        if (clock_gettime(ClockThreadCpuTimeId, out var ts) != 0)
            throw new InvalidOperationException($"clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: errno {Marshal.GetLastPInvokeError()}");
        return ts.Seconds * 1_000_000_000L + ts.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int clock_gettime(int clock, out Timespec time);
}
