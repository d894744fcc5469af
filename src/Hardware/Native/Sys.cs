using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// Thin, checked wrappers over the libc calls the hardware layer uses. Every failure throws a
/// <see cref="SyscallException"/> that names the call and the errno; descriptors come back owned.
/// </summary>
public static unsafe class Sys
{
    /// <summary>The calling thread's errno after a failed call.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Throws for <paramref name="call"/> if <paramref name="result"/> is negative.</summary>
    public static long Check(long result, string call, string? detail = null)
    {
        if (result < 0) throw new SyscallException(call, errno, detail);
        return result;
    }

    /// <summary>open(2) with O_CLOEXEC added; returns the owned descriptor.</summary>
    public static FileDescriptor Open(string path, int flags)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes) fd = open(p, flags | O_CLOEXEC);
        Check(fd, $"open({path})");
        return new FileDescriptor(fd, path);
    }

    /// <summary>
    /// openat2(2) (syscall 437) relative to <paramref name="directory"/>, with O_CLOEXEC added; returns the owned
    /// descriptor. <paramref name="what"/> names the file in the descriptor and in errors. The kernel's errno comes
    /// back in the <see cref="SyscallException"/>: EXDEV for a path leaving a RESOLVE_BENEATH directory, ELOOP for
    /// a refused magic link, ENOSYS on kernels before Linux 5.6.
    /// </summary>
    public static FileDescriptor OpenAt2(FileDescriptor directory, string path, OpenHow how, string what)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        var withCloexec = how with { Flags = how.Flags | (uint)O_CLOEXEC };
        long fd;
        fixed (byte* p = bytes)
            fd = (long)syscall((syscall_arg)(void*)OpenHow.SyscallNumber, (syscall_arg)(void*)directory.Fd, (syscall_arg)p,
                (syscall_arg)(&withCloexec), (syscall_arg)(void*)sizeof(OpenHow));
        Check(fd, "openat2", what);
        return new FileDescriptor((int)fd, what);
    }

    /// <summary>ioctl(2) with an integer argument.</summary>
    public static int Ioctl(FileDescriptor fd, ulong request, ulong arg, string name)
    {
        int r = ioctl(fd.Fd, (int)request, (void*)arg);
        Check(r, $"ioctl({name})", fd.What);
        return r;
    }

    /// <summary>ioctl(2) with a pointer argument.</summary>
    public static int Ioctl(FileDescriptor fd, ulong request, void* arg, string name)
    {
        int r = ioctl(fd.Fd, (int)request, arg);
        Check(r, $"ioctl({name})", fd.What);
        return r;
    }

    /// <summary>ioctl(2) that returns the raw result and errno instead of throwing (for probes such as KVM_HAS_DEVICE_ATTR).</summary>
    public static int TryIoctl(FileDescriptor fd, ulong request, void* arg, out int err)
    {
        int r = ioctl(fd.Fd, (int)request, arg);
        err = r < 0 ? errno : 0;
        return r;
    }

    /// <summary>mmap(2); returns the mapped address.</summary>
    public static nint Mmap(nint addr, ulong length, int prot, int flags, int fd, long offset, string what)
    {
        void* p = mmap((void*)addr, (size_t)length, prot, flags, fd, offset);
        if (p == MAP_FAILED) throw new SyscallException("mmap", errno, $"{what}, {length} bytes");
        return (nint)p;
    }

    /// <summary>munmap(2).</summary>
    public static void Munmap(nint addr, ulong length)
    {
        Check(munmap((void*)addr, (size_t)length), "munmap");
    }

    /// <summary>madvise(2) with MADV_DONTNEED: the range's private anonymous pages are dropped (they read as missing again).</summary>
    public static void MadviseDontNeed(nint addr, ulong length) =>
        Check(madvise((void*)addr, (size_t)length, MADV_DONTNEED), "madvise(MADV_DONTNEED)", $"{length} bytes at 0x{addr:x}");

    /// <summary>
    /// madvise(2) with MADV_HUGEPAGE: the range may be backed by transparent huge pages where the kernel's THP mode is
    /// "madvise". Returns false, changing nothing, where the kernel has no THP (EINVAL).
    /// </summary>
    public static bool MadviseHugePage(nint addr, ulong length)
    {
        if (madvise((void*)addr, (size_t)length, MADV_HUGEPAGE) == 0) return true;
        int err = errno;
        if (err == EINVAL) return false;
        throw new SyscallException("madvise(MADV_HUGEPAGE)", err, $"{length} bytes at 0x{addr:x}");
    }

    /// <summary>memfd_create(2) with MFD_CLOEXEC.</summary>
    public static FileDescriptor MemfdCreate(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        int fd;
        fixed (byte* p = bytes) fd = memfd_create(p, MFD_CLOEXEC);
        Check(fd, "memfd_create", name);
        return new FileDescriptor(fd, $"memfd:{name}");
    }

    /// <summary>ftruncate(2).</summary>
    public static void Ftruncate(FileDescriptor fd, long length) =>
        Check(ftruncate(fd.Fd, length), "ftruncate", fd.What);

    /// <summary>
    /// The calling thread's kernel thread id (gettid(2); x86-64 syscall 186): what the kernel reports as the
    /// faulting thread of a userfaultfd fault and what tgkill(2) addresses.
    /// </summary>
    public static int CurrentThreadId() => (int)Syscall(186, name: "gettid");

    /// <summary>
    /// flock(2) (x86-64 syscall 73) LOCK_EX | LOCK_NB on <paramref name="fd"/>: true once taken, false if another open file
    /// description holds a lock on the file. The lock lasts until the descriptor is closed (or its process dies).
    /// </summary>
    public static bool TryLockExclusive(FileDescriptor fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        const long flock = 73, lockExclusive = 2, lockNonBlocking = 4;
        long r = (long)syscall((syscall_arg)(void*)flock, (syscall_arg)(void*)fd.Fd, (syscall_arg)(void*)(lockExclusive | lockNonBlocking));
        if (r == 0) return true;
        if (errno == Errnos.EAGAIN) return false;
        Check(r, "flock", fd.What);
        return false;
    }

    /// <summary>Raw syscall(2) for calls libc does not wrap (userfaultfd).</summary>
    public static long Syscall(long number, long a1 = 0, long a2 = 0, long a3 = 0, string? name = null)
    {
        long r = (long)syscall((syscall_arg)(void*)number, (syscall_arg)(void*)a1, (syscall_arg)(void*)a2, (syscall_arg)(void*)a3);
        return Check(r, name ?? $"syscall({number})");
    }
}
