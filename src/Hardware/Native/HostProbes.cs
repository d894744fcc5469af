using Actorvisor.Hardware.Lazy;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// Small checks of what this process may do on the host, each done the way the runtime will do it (open the
/// device read-write, create a userfaultfd, read the limit), so a check passes exactly when the feature works.
/// Nothing is kept open: every descriptor a probe creates is closed before it returns.
/// </summary>
public static class HostProbes
{
    /// <summary>The sysctl that lets unprivileged processes create kernel-mode userfaultfds.</summary>
    public const string UnprivilegedUserfaultfdSysctl = "/proc/sys/vm/unprivileged_userfaultfd";

    /// <summary>The device that hands out userfaultfds to whoever may open it (Linux 6.1 and later).</summary>
    public const string UserfaultfdDevice = "/dev/userfaultfd";

    /// <summary>Opens <paramref name="path"/> O_RDWR (as KVM and VFIO devices are opened) and closes it.</summary>
    public static ProbeResult OpenReadWrite(string path)
    {
        try
        {
            using var fd = Sys.Open(path, O_RDWR);
            return ProbeResult.Yes($"{path} opens read-write");
        }
        catch (SyscallException e)
        {
            string access = e.Errno is Errnos.EACCES or Errnos.EPERM ? $"; {AccessDescription.Of(path)}" : "";
            return ProbeResult.No($"{path}: {e.ErrnoName} ({Errnos.Describe(e.Errno)}){access}");
        }
    }

    /// <summary>
    /// Creates a userfaultfd as lazy guest memory does (without UFFD_USER_MODE_ONLY, because KVM faults on guest
    /// RAM in kernel mode: the syscall, then /dev/userfaultfd), performs the handshake and closes it.
    /// </summary>
    public static ProbeResult Userfaultfd()
    {
        try
        {
            using var uffd = Lazy.Userfaultfd.Open();
            return ProbeResult.Yes($"userfaultfd available (features 0x{uffd.SupportedFeatures:x})");
        }
        catch (SyscallException e)
        {
            string sysctl = ReadTrimmed(UnprivilegedUserfaultfdSysctl) ?? "absent";
            string device = File.Exists(UserfaultfdDevice)
                ? $"{UserfaultfdDevice} not openable: {AccessDescription.Of(UserfaultfdDevice)}"
                : $"{UserfaultfdDevice} absent (kernel before 6.1)";
            return ProbeResult.No($"userfaultfd refused: {e.ErrnoName}; vm.unprivileged_userfaultfd={sysctl}, {device}");
        }
    }

    /// <summary>
    /// The soft RLIMIT_MEMLOCK of this process in bytes (null when unlimited), read from /proc/self/limits.
    /// </summary>
    public static ulong? MemlockLimitBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (!line.StartsWith("Max locked memory", StringComparison.Ordinal)) continue;
            var soft = line["Max locked memory".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            return soft == "unlimited" ? null : ulong.Parse(soft, System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidDataException("/proc/self/limits has no 'Max locked memory' line");
    }

    private static string? ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
