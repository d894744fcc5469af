using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// preadv(2) and pwritev(2) of a descriptor at an offset over a list of <see cref="HostBuffer"/>s, going on after
/// short transfers and EINTR and in slices of at most IOV_MAX buffers, so a device can move a request's bytes between
/// a file and guest RAM with no copy in between.
/// </summary>
public static unsafe partial class VectoredIo
{
    /// <summary>IOV_MAX: the most buffers one call takes.</summary>
    public const int MaxBuffersPerCall = 1024;

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    private static partial nint PReadV(int fd, HostBuffer* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    private static partial nint PWriteV(int fd, HostBuffer* iov, int count, long offset);

    /// <summary>
    /// Reads into <paramref name="buffers"/>, in order, from byte <paramref name="offset"/> of <paramref name="fd"/>;
    /// returns the bytes read, fewer than the buffers hold only at the end of the file.
    /// </summary>
    /// <exception cref="SyscallException">a read fails.</exception>
    public static long Read(FileDescriptor fd, ReadOnlySpan<HostBuffer> buffers, long offset, string what) =>
        Transfer(fd, buffers, offset, write: false, what);

    /// <summary>Writes all of <paramref name="buffers"/>, in order, at byte <paramref name="offset"/> of <paramref name="fd"/>.</summary>
    /// <exception cref="SyscallException">a write fails, or makes no progress.</exception>
    public static void Write(FileDescriptor fd, ReadOnlySpan<HostBuffer> buffers, long offset, string what) =>
        Transfer(fd, buffers, offset, write: true, what);

    private static long Transfer(FileDescriptor fd, ReadOnlySpan<HostBuffer> buffers, long offset, bool write, string what)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        // The caller's buffers as given; a copy only once a short transfer leaves one of them partly done.
        HostBuffer[]? copy = null;
        int first = 0;
        long total = 0;
        while (first < buffers.Length)
        {
            ReadOnlySpan<HostBuffer> rest = copy is null ? buffers : copy;
            if (rest[first].Length == 0) { first++; continue; }
            int count = Math.Min(rest.Length - first, MaxBuffersPerCall);
            nint n;
            // Safe: the buffers are host memory the caller checked, and the kernel reads only the iovec array given.
            fixed (HostBuffer* iov = rest[first..])
                n = write ? PWriteV(fd.Fd, iov, count, offset + total) : PReadV(fd.Fd, iov, count, offset + total);
            if (n < 0)
            {
                int errno = Sys.LastErrno;
                if (errno == Errnos.EINTR) continue;
                throw new SyscallException(write ? "pwritev" : "preadv", errno, what);
            }
            if (n == 0)
            {
                if (write) throw new SyscallException("pwritev", Errnos.EIO, $"{what}: no byte written");
                break; // the end of the file
            }
            total += n;
            for (long left = n; left > 0;)
            {
                if (left >= rest[first].Length) { left -= rest[first].Length; first++; }
                else
                {
                    copy ??= buffers.ToArray();
                    copy[first] = copy[first].Slice(left, long.MaxValue);
                    left = 0;
                }
            }
        }
        return total;
    }
}
