using System.Globalization;

namespace Actorvisor.Hardware.Cgroups;

/// <summary>
/// This process's cgroup v2 directory as the threaded root of per-VM CPU limits: each <see cref="Create"/> makes a
/// threaded child cgroup with the cpu controller and a <c>cpu.max</c>, which a VM's vCPU threads then join.
/// <see cref="TryOpen(out string)"/> finds the directory (/proc/self/cgroup and the cgroup2 mount in /proc/self/mountinfo) and
/// proves it usable by making and removing one such cgroup; where that cannot work (no cgroup v2, no cpu controller in
/// it, as on a cgroup v1 or hybrid host, or no write access) it says exactly why.
/// </summary>
public sealed class CpuLimitCgroups
{
    private int _sequence;

    private CpuLimitCgroups(string directory) => Directory = directory;

    /// <summary>This process's cgroup directory, the parent of the per-VM cgroups.</summary>
    public string Directory { get; }

    /// <summary>
    /// The CPU-limit cgroups of this process, or null with <paramref name="unavailable"/> saying why there are none.
    /// </summary>
    public static CpuLimitCgroups? TryOpen(out string unavailable) => TryOpen("/proc/self/cgroup", "/proc/self/mountinfo", out unavailable);

    internal static CpuLimitCgroups? TryOpen(string cgroupFile, string mountInfoFile, out string unavailable)
    {
        var own = File.ReadLines(cgroupFile).FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        if (own is null)
        {
            unavailable = $"this process is in no cgroup v2 hierarchy ({cgroupFile} has no '0::' line)";
            return null;
        }
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        var mount = File.ReadLines(mountInfoFile)
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 6 && Array.IndexOf(f, "-") is var dash && dash > 5 && dash + 1 < f.Length && f[dash + 1] == "cgroup2")
            .Select(f => (Root: Unescape(f[3]), Point: Unescape(f[4])))
            .FirstOrDefault(m => own.StartsWith(m.Root, StringComparison.Ordinal));
        if (mount.Point is null)
        {
            unavailable = $"no cgroup2 file system is mounted where this process's cgroup ({own}) is visible (mount -t cgroup2 none /sys/fs/cgroup)";
            return null;
        }
        var relative = own[mount.Root.Length..].TrimStart('/');
        var directory = relative.Length == 0 ? mount.Point : Path.Combine(mount.Point, relative);
        var controllers = CgroupFiles.ReadWords(Path.Combine(directory, "cgroup.controllers"));
        if (!controllers.Contains("cpu"))
        {
            unavailable = $"the cgroup v2 hierarchy at {mount.Point} offers no cpu controller to {directory} (cgroup.controllers: '{string.Join(' ', controllers)}'); " +
                          "on a cgroup v1 or hybrid host the cpu controller belongs to v1: boot with systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=cpu), " +
                          "and under systemd give the node its cgroup (Delegate=cpu in the unit)";
            return null;
        }
        var groups = new CpuLimitCgroups(directory);
        try
        {
            using var probe = groups.Create("probe", 1.0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            unavailable = $"cannot make a threaded cgroup with cpu.max under {directory}: {e.Message}; the node's user needs write access there (systemd: Delegate=cpu in the unit)";
            return null;
        }
        unavailable = "";
        return groups;
    }

    /// <summary>
    /// Makes a threaded cgroup for <paramref name="name"/> (a VM) under <see cref="Directory"/> whose threads may use at
    /// most <paramref name="cores"/> CPUs (cpu.max QUOTA 100000).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cores"/> is not positive.</exception>
    /// <exception cref="IOException">the kernel refused a step (mkdir, cgroup.type, cgroup.subtree_control, cpu.max), naming the file.</exception>
    public CpuLimitCgroup Create(string name, double cores)
    {
        if (!(cores > 0) || double.IsInfinity(cores)) throw new ArgumentOutOfRangeException(nameof(cores), cores, "a CPU limit is a positive number of CPUs");
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        var path = Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture,
            $"actorvisor-{Environment.ProcessId}-{Interlocked.Increment(ref _sequence)}-{safe}"));
        System.IO.Directory.CreateDirectory(path);
        var group = new CpuLimitCgroup(path, Directory, cores);
        try
        {
            // Threaded first: that makes this process's cgroup a threaded root, which may hold processes and still give
            // the cpu controller (a threaded controller) to its children.
            CgroupFiles.Write(Path.Combine(path, "cgroup.type"), "threaded");
            if (!CgroupFiles.ReadWords(Path.Combine(Directory, "cgroup.subtree_control")).Contains("cpu"))
                CgroupFiles.Write(Path.Combine(Directory, "cgroup.subtree_control"), "+cpu");
            CgroupFiles.Write(Path.Combine(path, "cpu.max"), string.Create(CultureInfo.InvariantCulture, $"{group.QuotaMicroseconds} {CpuLimitCgroup.PeriodMicroseconds}"));
            return group;
        }
        catch
        {
            group.Dispose();
            throw;
        }
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string field) =>
        System.Text.RegularExpressions.Regex.Replace(field, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
}
