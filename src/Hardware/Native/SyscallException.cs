namespace Actorvisor.Hardware.Native;

/// <summary>A failed system call: owns the name of the call, its errno and the errno's meaning.</summary>
public sealed class SyscallException : IOException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public SyscallException(string call, int errno, string? detail = null)
        : base(Format(call, errno, detail), errno)
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The system call (or ioctl name) that failed, e.g. "ioctl(KVM_CREATE_VM)".</summary>
    public string Call { get; }

    /// <summary>The errno the kernel returned.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name (EINVAL, ENOENT, ...), or the number when unknown.</summary>
    public string ErrnoName => Errnos.Name(Errno);

    private static string Format(string call, int errno, string? detail) =>
        $"{call} failed: {Errnos.Name(errno)} ({errno}): {Errnos.Describe(errno)}" + (detail is null ? "" : $" [{detail}]");
}
