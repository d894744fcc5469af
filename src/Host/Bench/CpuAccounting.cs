using System.Globalization;
using System.Text;

namespace Actorvisor.Host.Bench;

/// <summary>
/// One moment's CPU accounting of the host (the aggregate line of /proc/stat, in USER_HZ ticks) and of one process's
/// threads (/proc/PID/task/TID: the name from stat, the time on a CPU from schedstat (<see cref="ThreadSchedStat.Parse"/>), the guest time from
/// stat): owns the numbers, and says where the CPU went between two moments. A benchmark uses it to tell a VMM's
/// device threads, its vCPU thread and the host's idle time apart over a timed stretch of a guest's work.
/// </summary>
public sealed class CpuAccounting
{
    private static readonly string[] HostFields = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"];

    private CpuAccounting(long[] host, Dictionary<int, ThreadTimes> threads)
    {
        Host = host;
        Threads = threads;
    }

    /// <summary>The host's ticks per field of /proc/stat's "cpu" line, in <see cref="HostFields"/> order (missing fields 0).</summary>
    private long[] Host { get; }

    /// <summary>Each thread of the process by thread id.</summary>
    private Dictionary<int, ThreadTimes> Threads { get; }

    /// <summary>One thread's name and times so far.</summary>
    private readonly record struct ThreadTimes(string Name, double OnCpuSeconds, long SystemTicks, long GuestTicks);

    /// <summary>Reads the host's and process <paramref name="processId"/>'s accounting now (threads that end meanwhile are skipped).</summary>
    public static CpuAccounting Take(int processId)
    {
        var host = new long[HostFields.Length];
        try
        {
            var line = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal)) ?? "";
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 1; i < fields.Length && i <= host.Length; i++)
                host[i - 1] = long.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : 0;
        }
        catch (IOException)
        {
        }
        var threads = new Dictionary<int, ThreadTimes>();
        string tasks = $"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/task";
        IEnumerable<string> ids;
        try { ids = Directory.EnumerateDirectories(tasks).ToList(); }
        catch (IOException) { ids = []; }
        foreach (var dir in ids)
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
                if (open < 0 || close < open) continue;
                string name = stat[(open + 1)..close];
                // After the name: field 3 (state) onwards; stime is field 15, guest_time field 43.
                var rest = stat[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                long system = rest.Length > 12 && long.TryParse(rest[12], NumberStyles.None, CultureInfo.InvariantCulture, out long k) ? k : 0;
                long guest = rest.Length > 40 && long.TryParse(rest[40], NumberStyles.None, CultureInfo.InvariantCulture, out long g) ? g : 0;
                double onCpu = ThreadSchedStat.Parse(File.ReadAllText(Path.Combine(dir, "schedstat")))?.OnCpu ?? 0;
                threads[tid] = new ThreadTimes(name, onCpu, system, guest);
            }
            catch (IOException)
            {
                // the thread ended between the listing and the read
            }
        }
        return new CpuAccounting(host, threads);
    }

    /// <summary>
    /// Milliseconds on a CPU between <paramref name="from"/> and <paramref name="to"/> of the threads named
    /// <paramref name="threadName"/> (the kernel's name: its first 15 characters), summed.
    /// </summary>
    public static double OnCpuMilliseconds(CpuAccounting from, CpuAccounting to, string threadName)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(threadName);
        string name = threadName.Length > 15 ? threadName[..15] : threadName;
        return ByThreadName(from, to).TryGetValue(name, out var times) ? times.OnCpu * 1e3 : 0;
    }

    // Each thread name's time on a CPU (seconds) and in the kernel and the guest (ticks) between the two moments.
    private static Dictionary<string, (double OnCpu, long System, long Guest)> ByThreadName(CpuAccounting from, CpuAccounting to)
    {
        var byName = new Dictionary<string, (double OnCpu, long System, long Guest)>();
        foreach (var (tid, now) in to.Threads)
        {
            var before = from.Threads.TryGetValue(tid, out var b) ? b : new ThreadTimes(now.Name, 0, 0, 0);
            double onCpu = now.OnCpuSeconds - before.OnCpuSeconds;
            long guest = now.GuestTicks - before.GuestTicks;
            long system = now.SystemTicks - before.SystemTicks;
            if (onCpu <= 0) continue;
            byName[now.Name] = byName.TryGetValue(now.Name, out var sum) ? (sum.OnCpu + onCpu, sum.System + system, sum.Guest + guest) : (onCpu, system, guest);
        }
        return byName;
    }

    /// <summary>
    /// What happened between <paramref name="from"/> and <paramref name="to"/>: the host's time by kind as shares of its
    /// whole (user, system, guest, softirq, idle ...), then each thread that ran, by name, its milliseconds on a CPU
    /// (and, in 10 ms ticks, of those in the kernel and in the guest), the busiest first; threads sharing a name are summed.
    /// </summary>
    public static string Describe(CpuAccounting from, CpuAccounting to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var text = new StringBuilder();
        long total = 0;
        var deltas = new long[HostFields.Length];
        for (int i = 0; i < deltas.Length; i++)
        {
            deltas[i] = to.Host[i] - from.Host[i];
            // guest and guest_nice are already counted in user and nice.
            if (HostFields[i] is not ("guest" or "guest_nice")) total += deltas[i];
        }
        text.Append(CultureInfo.InvariantCulture, $"host {total * 10} ms:");
        for (int i = 0; i < deltas.Length; i++)
            if (deltas[i] > 0) text.Append(CultureInfo.InvariantCulture, $" {HostFields[i]} {100.0 * deltas[i] / Math.Max(1, total):0.#}%");
        var byName = ByThreadName(from, to);
        text.Append("; threads (ms on a CPU):");
        foreach (var (name, times) in byName.OrderByDescending(t => t.Value.OnCpu))
        {
            text.Append(CultureInfo.InvariantCulture, $" {name}={times.OnCpu * 1e3:0.#}");
            text.Append(CultureInfo.InvariantCulture, $" (system {times.System * 10}, guest {times.Guest * 10})");
        }
        return text.ToString();
    }
}
