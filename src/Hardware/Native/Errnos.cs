using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Native;

/// <summary>Names and descriptions of errno values, for error messages a person can act on.</summary>
public static class Errnos
{
    /// <summary>EINTR: interrupted system call.</summary>
    public const int EINTR = 4;
    /// <summary>EIO: input/output error.</summary>
    public const int EIO = 5;
    /// <summary>EAGAIN: try again.</summary>
    public const int EAGAIN = 11;
    /// <summary>EEXIST: already exists.</summary>
    public const int EEXIST = 17;
    /// <summary>EINVAL: invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>ENOENT: no such file or directory.</summary>
    public const int ENOENT = 2;
    /// <summary>EBADF: bad file descriptor.</summary>
    public const int EBADF = 9;
    /// <summary>EFAULT: bad address.</summary>
    public const int EFAULT = 14;
    /// <summary>ENOTTY: inappropriate ioctl for device.</summary>
    public const int ENOTTY = 25;
    /// <summary>ENXIO: no such device or address.</summary>
    public const int ENXIO = 6;
    /// <summary>EPERM: operation not permitted.</summary>
    public const int EPERM = 1;
    /// <summary>EACCES: permission denied.</summary>
    public const int EACCES = 13;
    /// <summary>EXDEV: cross-device link; openat2 with RESOLVE_BENEATH: the path leaves the directory.</summary>
    public const int EXDEV = 18;
    /// <summary>ENOTDIR: not a directory.</summary>
    public const int ENOTDIR = 20;
    /// <summary>ENOSYS: function not implemented (a system call this kernel lacks).</summary>
    public const int ENOSYS = 38;
    /// <summary>ELOOP: too many symbolic links; openat2 with RESOLVE_NO_MAGICLINKS: a magic link was met.</summary>
    public const int ELOOP = 40;

    private static readonly Dictionary<int, string> Names = new()
    {
        [1] = "EPERM", [2] = "ENOENT", [3] = "ESRCH", [4] = "EINTR", [5] = "EIO", [6] = "ENXIO", [7] = "E2BIG",
        [9] = "EBADF", [11] = "EAGAIN", [12] = "ENOMEM", [13] = "EACCES", [14] = "EFAULT", [16] = "EBUSY",
        [17] = "EEXIST", [18] = "EXDEV", [19] = "ENODEV", [20] = "ENOTDIR", [21] = "EISDIR", [22] = "EINVAL", [24] = "EMFILE", [25] = "ENOTTY", [28] = "ENOSPC",
        [38] = "ENOSYS", [40] = "ELOOP", [95] = "EOPNOTSUPP",
    };

    /// <summary>The symbolic name of <paramref name="errno"/>, e.g. "EINVAL".</summary>
    public static string Name(int errno) => Names.TryGetValue(errno, out var n) ? n : $"errno {errno}";

    /// <summary>The C library's description of <paramref name="errno"/>.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
