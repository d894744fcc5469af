using System.Runtime.InteropServices;
using Actorvisor.Hardware.Lazy.Uapi;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// One userfaultfd: a descriptor through which the kernel reports faults on registered ranges and through
/// which they are resolved. Each method is one ioctl of Documentation/admin-guide/mm/userfaultfd.rst.
/// Thread-safe: the ioctls may be issued from any thread; the descriptor stays open while one is in flight.
/// </summary>
public sealed unsafe class Userfaultfd : IDisposable
{
    private const int EPERM = 1;

    private readonly FileDescriptor _fd;

    private Userfaultfd(FileDescriptor fd, ulong features, ulong ioctls, ulong enabledFeatures)
    {
        _fd = fd;
        SupportedFeatures = features;
        Ioctls = ioctls;
        EnabledFeatures = enabledFeatures;
    }

    /// <summary>The descriptor (O_CLOEXEC | O_NONBLOCK), for poll(2).</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Every UFFD_FEATURE_* bit the kernel supports, as reported by the UFFDIO_API handshake.</summary>
    public ulong SupportedFeatures { get; }

    /// <summary>The features this descriptor was opened with.</summary>
    public ulong EnabledFeatures { get; }

    /// <summary>Bit mask (1 &lt;&lt; _UFFDIO_*) of the ioctls the handshake reports for the descriptor.</summary>
    public ulong Ioctls { get; }

    /// <summary>True if fault messages carry the faulting thread's id (UFFD_FEATURE_THREAD_ID).</summary>
    public bool ReportsThreadId => (EnabledFeatures & UffdIoctl.FeatureThreadId) != 0;

    /// <summary>
    /// Creates a userfaultfd (syscall 323, O_CLOEXEC | O_NONBLOCK) and performs the UFFDIO_API handshake,
    /// asking for UFFD_FEATURE_THREAD_ID when the kernel has it.
    /// </summary>
    /// <param name="userModeOnly">
    /// Pass UFFD_USER_MODE_ONLY. Leave false for guest RAM: KVM (and the kernel copying to or from user
    /// memory) fault in kernel mode, which such a descriptor refuses with SIGBUS. Without the flag the kernel
    /// requires CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1; if it refuses, /dev/userfaultfd is tried.
    /// </param>
    /// <exception cref="SyscallException">neither the syscall nor /dev/userfaultfd gives a descriptor, or the handshake fails.</exception>
    public static Userfaultfd Open(bool userModeOnly = false)
    {
        int flags = O_CLOEXEC | O_NONBLOCK | (userModeOnly ? UffdIoctl.UserModeOnly : 0);
        var fd = Create(flags);
        try
        {
            // The handshake is once per descriptor, so ask first with no features to learn what the
            // kernel has, on a throwaway descriptor, then enable the ones we use on the real one.
            ulong supported;
            using (var probe = Create(flags)) supported = Handshake(probe, 0).Features;
            ulong wanted = supported & UffdIoctl.FeatureThreadId;
            var api = Handshake(fd, wanted);
            return new Userfaultfd(fd, supported, api.Ioctls, wanted);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static FileDescriptor Create(int flags)
    {
        long r = (long)syscall((Tmds.Linux.syscall_arg)(void*)UffdIoctl.SyscallNumber, (Tmds.Linux.syscall_arg)(void*)flags);
        if (r >= 0) return new FileDescriptor((int)r, "userfaultfd");
        int err = errno;
        if (err != EPERM) throw new SyscallException("userfaultfd", err);
        // userfaultfd.rst: /dev/userfaultfd grants the same descriptor to whoever may open the node,
        // for systems that keep vm.unprivileged_userfaultfd at 0.
        FileDescriptor dev;
        try { dev = Sys.Open("/dev/userfaultfd", O_RDWR); }
        catch (SyscallException e)
        {
            throw new SyscallException("userfaultfd", err,
                $"the syscall was refused and /dev/userfaultfd could not be opened ({e.ErrnoName}; {AccessDescription.Of("/dev/userfaultfd")}); " +
                "run as root, grant read-write access to /dev/userfaultfd, or set vm.unprivileged_userfaultfd=1");
        }
        using (dev)
        {
            int fd = Sys.Ioctl(dev, UffdIoctl.DevNew, (ulong)flags, "USERFAULTFD_IOC_NEW");
            return new FileDescriptor(fd, "userfaultfd");
        }
    }

    private static UffdioApi Handshake(FileDescriptor fd, ulong features)
    {
        var api = new UffdioApi { Api = UffdIoctl.Api, Features = features };
        Sys.Ioctl(fd, UffdIoctl.ApiHandshake, &api, "UFFDIO_API");
        return api;
    }

    /// <summary>
    /// UFFDIO_REGISTER: reports faults on [<paramref name="start"/>, +<paramref name="length"/>) through this
    /// descriptor. Returns the bit mask of ioctls the range supports (1 &lt;&lt; _UFFDIO_COPY etc.).
    /// </summary>
    public ulong Register(nint start, ulong length, ulong mode = UffdIoctl.RegisterModeMissing)
    {
        CheckRange(start, length);
        var reg = new UffdioRegister { Range = new UffdioRange { Start = (ulong)start, Len = length }, Mode = mode };
        Call(UffdIoctl.Register, &reg, "UFFDIO_REGISTER");
        return reg.Ioctls;
    }

    /// <summary>UFFDIO_UNREGISTER: stops tracking the range; threads blocked on faults in it are woken and fault normally.</summary>
    public void Unregister(nint start, ulong length)
    {
        CheckRange(start, length);
        var range = new UffdioRange { Start = (ulong)start, Len = length };
        Call(UffdIoctl.Unregister, &range, "UFFDIO_UNREGISTER");
    }

    /// <summary>UFFDIO_WAKE: wakes threads blocked on faults in the range (after installs made with wake = false).</summary>
    public void Wake(nint start, ulong length)
    {
        CheckRange(start, length);
        var range = new UffdioRange { Start = (ulong)start, Len = length };
        Call(UffdIoctl.Wake, &range, "UFFDIO_WAKE");
    }

    /// <summary>
    /// UFFDIO_COPY: atomically fills the missing pages at <paramref name="dst"/> with a copy of
    /// <paramref name="length"/> bytes at <paramref name="src"/>, then wakes the faulting threads unless
    /// <paramref name="wake"/> is false. EEXIST (a page is already there) is returned as
    /// <see cref="PageInstall.AlreadyPresent"/>; other failures throw.
    /// </summary>
    public PageInstall Copy(nint dst, nint src, ulong length, bool wake = true)
    {
        CheckRange(dst, length);
        ulong done = 0;
        while (true)
        {
            var copy = new UffdioCopy
            {
                Dst = (ulong)dst + done, Src = (ulong)src + done, Len = length - done,
                Mode = wake ? 0 : UffdIoctl.ModeDontWake,
            };
            int err = TryCall(UffdIoctl.Copy, &copy);
            if (err == 0) return PageInstall.Installed;
            if (err == Errnos.EEXIST) return PageInstall.AlreadyPresent;
            // EAGAIN: a partial copy (copy > 0 says how far it got) or the address space is changing; retry the rest.
            if (err == Errnos.EAGAIN) { if (copy.Copy > 0) done += (ulong)copy.Copy; continue; }
            throw new SyscallException("ioctl(UFFDIO_COPY)", err, $"{_fd.What}, dst 0x{(ulong)dst:x} len 0x{length:x}");
        }
    }

    /// <summary>
    /// UFFDIO_ZEROPAGE: maps zero pages over the missing pages of the range (no copy), then wakes the
    /// faulting threads unless <paramref name="wake"/> is false. EEXIST is <see cref="PageInstall.AlreadyPresent"/>.
    /// </summary>
    public PageInstall ZeroPage(nint dst, ulong length, bool wake = true)
    {
        CheckRange(dst, length);
        ulong done = 0;
        while (true)
        {
            var zp = new UffdioZeropage
            {
                Range = new UffdioRange { Start = (ulong)dst + done, Len = length - done },
                Mode = wake ? 0 : UffdIoctl.ModeDontWake,
            };
            int err = TryCall(UffdIoctl.ZeroPage, &zp);
            if (err == 0) return PageInstall.Installed;
            if (err == Errnos.EEXIST) return PageInstall.AlreadyPresent;
            if (err == Errnos.EAGAIN) { if (zp.Zeropage > 0) done += (ulong)zp.Zeropage; continue; }
            throw new SyscallException("ioctl(UFFDIO_ZEROPAGE)", err, $"{_fd.What}, dst 0x{(ulong)dst:x} len 0x{length:x}");
        }
    }

    /// <summary>
    /// Reads pending messages without blocking (the descriptor is O_NONBLOCK). Returns how many were read;
    /// 0 if none is pending.
    /// </summary>
    public int ReadMessages(Span<UffdMsg> buffer)
    {
        if (buffer.IsEmpty) return 0;
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                long n;
                fixed (UffdMsg* p = buffer) n = read(_fd.Fd, p, (Tmds.Linux.size_t)(buffer.Length * UffdMsg.Size));
                if (n >= 0) return (int)(n / UffdMsg.Size);
                int err = errno;
                if (err == Errnos.EAGAIN) return 0;
                if (err == Errnos.EINTR) continue;
                throw new SyscallException("read(userfaultfd)", err, _fd.What);
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Closes the descriptor: threads still blocked on faults are woken and fault as if never registered.</summary>
    public void Dispose() => _fd.Dispose();

    private void Call(ulong request, void* arg, string name)
    {
        int err = TryCall(request, arg);
        if (err != 0) throw new SyscallException($"ioctl({name})", err, _fd.What);
    }

    // Holds a reference on the descriptor for the length of the ioctl, so a concurrent Dispose cannot
    // close it and let the number be reused by another file under our feet.
    private int TryCall(ulong request, void* arg)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                int r = Sys.TryIoctl(_fd, request, arg, out int err);
                if (r >= 0) return 0;
                if (err != Errnos.EINTR) return err;
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    private static void CheckRange(nint start, ulong length)
    {
        if (!PageSize.IsAligned((ulong)start)) throw new ArgumentException($"address 0x{(ulong)start:x} is not page aligned", nameof(start));
        if (length == 0 || !PageSize.IsAligned(length)) throw new ArgumentException($"length 0x{length:x} is not a positive multiple of 4 KiB", nameof(length));
    }
}
