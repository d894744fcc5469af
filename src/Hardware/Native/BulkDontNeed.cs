using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// MADV_DONTNEED over many ranges of this process's anonymous memory at once: process_madvise(2) on a pidfd of the
/// process itself, up to 1024 ranges a call, so that scattered pages cost one system call (and, on kernels that batch
/// them, one TLB flush) per 1024 ranges instead of one each. Kernels without process_madvise, or that refuse
/// MADV_DONTNEED through it (before Linux 6.13 it took only the remote-process advice), fall back to one madvise(2)
/// per range; the first such refusal is remembered for the process. Owns the process's pidfd for itself.
/// </summary>
public static unsafe class BulkDontNeed
{
    /// <summary>Ranges one process_madvise call takes at most (UIO_MAXIOV).</summary>
    public const int RangesPerCall = 1024;

    private const long PidfdOpenSyscall = 434;
    private const long ProcessMadviseSyscall = 440;
    private static readonly object Gate = new();
    // -1 before the first use; -2 once process_madvise turned out unusable here; else the pidfd of this process.
    private static int _pidfd = -1;

    /// <summary>True while process_madvise is (or may be) usable; false once it was refused and ranges go one madvise each.</summary>
    public static bool UsesProcessMadvise => Volatile.Read(ref _pidfd) != -2;

    /// <summary>
    /// Drops the pages of every range (each an address and a length, page-aligned, in private anonymous mappings of
    /// this process): they read as missing again. Returns the number of system calls it made.
    /// </summary>
    /// <exception cref="SyscallException">the kernel refused a range (a bad address or length).</exception>
    public static int Drop(ReadOnlySpan<(nint Address, ulong Length)> ranges)
    {
        int calls = 0;
        var iov = stackalloc Iovec[RangesPerCall];
        while (!ranges.IsEmpty)
        {
            var batch = ranges[..Math.Min(ranges.Length, RangesPerCall)];
            ranges = ranges[batch.Length..];
            int pidfd = Pidfd();
            if (pidfd < 0)
            {
                calls += OneByOne(batch);
                continue;
            }
            ulong total = 0;
            for (int i = 0; i < batch.Length; i++)
            {
                iov[i] = new Iovec { Base = batch[i].Address, Length = (nuint)batch[i].Length };
                total += batch[i].Length;
            }
            long done = (long)syscall((syscall_arg)(void*)ProcessMadviseSyscall, (syscall_arg)(void*)pidfd, (syscall_arg)iov,
                (syscall_arg)(void*)batch.Length, (syscall_arg)(void*)MADV_DONTNEED, (syscall_arg)(void*)0);
            calls++;
            if (done < 0)
            {
                int err = errno;
                if (err is not (Errnos.ENOSYS or Errnos.EINVAL or Errnos.EPERM or Errnos.EBADF)) throw new SyscallException("process_madvise(MADV_DONTNEED)", err, $"{batch.Length} ranges");
                // This kernel does not take MADV_DONTNEED this way (or a range is bad: madvise then says which).
                Disable();
                calls += OneByOne(batch);
                continue;
            }
            // A call that stopped part way returns what it did: the rest, from the range it stopped in, one by one.
            if ((ulong)done < total) calls += OneByOne(batch[RangeHolding(batch, (ulong)done)..]);
        }
        return calls;
    }

    private static int OneByOne(ReadOnlySpan<(nint Address, ulong Length)> ranges)
    {
        foreach (var (address, length) in ranges) Sys.MadviseDontNeed(address, length);
        return ranges.Length;
    }

    // The index of the range that holds byte offset `done` of the ranges laid end to end.
    private static int RangeHolding(ReadOnlySpan<(nint Address, ulong Length)> ranges, ulong done)
    {
        int i = 0;
        for (; i < ranges.Length && done >= ranges[i].Length; i++) done -= ranges[i].Length;
        return i;
    }

    private static int Pidfd()
    {
        int fd = Volatile.Read(ref _pidfd);
        if (fd != -1) return fd;
        lock (Gate)
        {
            if (_pidfd != -1) return _pidfd;
            long opened = (long)syscall((syscall_arg)(void*)PidfdOpenSyscall, (syscall_arg)(void*)Environment.ProcessId, (syscall_arg)(void*)0);
            Volatile.Write(ref _pidfd, opened < 0 ? -2 : (int)opened);
            return _pidfd;
        }
    }

    // The pidfd stays open (another thread may be inside a call with it); only one descriptor for the process's life.
    private static void Disable() => Volatile.Write(ref _pidfd, -2);

    [StructLayout(LayoutKind.Sequential)]
    private struct Iovec
    {
        public nint Base;
        public nuint Length;
    }
}
