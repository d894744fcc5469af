using System.Runtime.InteropServices;

namespace Actorvisor.Host.Cluster;

/// <summary>
/// The CPU time (user and system) of the child processes this process has waited for, from getrusage(RUSAGE_CHILDREN):
/// the difference across one child's run from start to exit is that child's CPU time, a figure the machine's load
/// does not stretch the way it stretches wall time (children still running, such as a benchmark's nodes, are not counted).
/// </summary>
public static partial class ChildCpuTime
{
    /// <summary>The CPU time of every child waited for so far; zero where getrusage is not available.</summary>
    public static TimeSpan Total()
    {
        if (!OperatingSystem.IsLinux()) return TimeSpan.Zero;
        var usage = new RUsage();
        if (GetRUsage(RUsageChildren, ref usage) != 0) return TimeSpan.Zero;
        long micros = (usage.UserSeconds + usage.SystemSeconds) * 1_000_000 + usage.UserMicros + usage.SystemMicros;
        return TimeSpan.FromMicroseconds(micros);
    }

    private const int RUsageChildren = -1;

    // struct rusage on 64-bit Linux: two timevals, then 14 longs this class does not read.
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct RUsage
    {
        public long UserSeconds;
        public long UserMicros;
        public long SystemSeconds;
        public long SystemMicros;
        public fixed long Rest[14];
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, ref RUsage usage);
}
