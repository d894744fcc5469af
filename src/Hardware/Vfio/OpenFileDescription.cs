using Actorvisor.Hardware.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// Operations on the open file description (the kernel's struct file) behind a descriptor: the KVM-VFIO device
/// holds a reference to the struct file itself (fget) and compares files by identity (kvf->file == filp), so a
/// dup of an attached descriptor is the same file while a second open() of the same path is not.
/// </summary>
public static unsafe class OpenFileDescription
{
    private const long SysKcmp = 312; // x86_64 __NR_kcmp
    private const long KcmpFile = 0;  // KCMP_FILE

    /// <summary>
    /// Whether <paramref name="a"/> and <paramref name="b"/> refer to the same open file description:
    /// kcmp(KCMP_FILE). Where kcmp is unavailable (CONFIG_KCMP off, or a seccomp filter) the fallback compares
    /// inodes, which is stricter: two separate opens of one device node then count as the same file.
    /// </summary>
    /// <exception cref="SyscallException">either descriptor is not open (EBADF).</exception>
    public static bool AreSame(FileDescriptor a, FileDescriptor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        long pid = getpid();
        long r = (long)syscall((syscall_arg)(void*)SysKcmp, (syscall_arg)(void*)pid, (syscall_arg)(void*)pid,
            (syscall_arg)(void*)KcmpFile, (syscall_arg)(void*)a.Fd, (syscall_arg)(void*)b.Fd);
        if (r >= 0) return r == 0;
        int err = errno;
        if (err == Errnos.EBADF) throw new SyscallException("kcmp(KCMP_FILE)", err, $"{a.What} / {b.What}");
        return FileStatus.Of(a).IsSameInode(FileStatus.Of(b));
    }

    /// <summary>A new descriptor for the same open file (F_DUPFD_CLOEXEC): a reference of one's own, as fget takes.</summary>
    /// <exception cref="SyscallException">the descriptor is not open (EBADF), or no descriptor is free (EMFILE).</exception>
    public static FileDescriptor Duplicate(FileDescriptor file, string what)
    {
        ArgumentNullException.ThrowIfNull(file);
        int fd = fcntl(file.Fd, F_DUPFD_CLOEXEC, 0);
        Sys.Check(fd, "fcntl(F_DUPFD_CLOEXEC)", file.What);
        return new FileDescriptor(fd, what);
    }

    /// <summary>Whether the descriptor number of <paramref name="file"/> is open (fcntl(F_GETFD) does not fail with EBADF).</summary>
    public static bool IsOpen(FileDescriptor file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return !file.IsClosed && fcntl(file.Fd, F_GETFD, 0) >= 0;
    }
}
