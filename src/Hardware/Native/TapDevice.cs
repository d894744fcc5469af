using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// One Linux tap interface opened through /dev/net/tun (TUNSETIFF with IFF_TAP | IFF_NO_PI): owns the non-blocking
/// queue descriptor, through which each read(2) returns one Ethernet frame the host stack sent to the interface and
/// each write(2) hands it one frame. An interface of that name that does not exist is created (it needs
/// CAP_NET_ADMIN, and vanishes when the descriptor closes unless made persistent); an existing persistent tap is
/// attached to. The interface's address and link state are the host's business, not this type's.
/// </summary>
public sealed unsafe class TapDevice : IDisposable
{
    /// <summary>IFNAMSIZ: interface names have at most 15 bytes and a terminating NUL.</summary>
    public const int InterfaceNameSize = 16;
    /// <summary>The largest frame a read returns: a 64 KiB payload and an Ethernet header (a tap's MTU stays below it).</summary>
    public const int MaxFrameBytes = 65536 + 14;

    private const short IffTap = 0x0002, IffNoPi = 0x1000;
    private const int IfreqSize = 40; // struct ifreq: the name, then a 24-byte union whose first member is ifr_flags
    private static readonly ulong TunSetIff = IoctlNumber.Iow('T', 202, sizeof(int));

    private long _framesRead, _framesWritten, _writeDrops;

    private TapDevice(FileDescriptor fd, string name)
    {
        Descriptor = fd;
        Name = name;
    }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>The owned tun queue descriptor (non-blocking, close-on-exec).</summary>
    public FileDescriptor Descriptor { get; }

    /// <summary>Frames read from the interface.</summary>
    public long FramesRead => Interlocked.Read(ref _framesRead);

    /// <summary>Frames written to the interface.</summary>
    public long FramesWritten => Interlocked.Read(ref _framesWritten);

    /// <summary>Frames the interface did not take (its queue was full or it is down): dropped, as a cable would.</summary>
    public long WriteDrops => Interlocked.Read(ref _writeDrops);

    /// <summary>
    /// Opens tap <paramref name="name"/>, creating it if there is none (see <see cref="TapInterfaceName.Check"/> for
    /// the names allowed).
    /// </summary>
    /// <exception cref="ArgumentException">the name is not a valid interface name.</exception>
    /// <exception cref="SyscallException">/dev/net/tun cannot be opened, or TUNSETIFF failed (EPERM without CAP_NET_ADMIN, EBUSY if the interface is a tap already attached, EINVAL if it is not a tap).</exception>
    public static TapDevice Open(string name)
    {
        if (TapInterfaceName.Check(name) is { } problem) throw new ArgumentException($"'{name}': {problem}", nameof(name));
        var fd = Sys.Open("/dev/net/tun", O_RDWR | O_NONBLOCK);
        try
        {
            byte* ifreq = stackalloc byte[IfreqSize];
            new Span<byte>(ifreq, IfreqSize).Clear();
            System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifreq, InterfaceNameSize - 1));
            *(short*)(ifreq + InterfaceNameSize) = IffTap | IffNoPi;
            Sys.Ioctl(fd, TunSetIff, ifreq, $"TUNSETIFF {name}");
            return new TapDevice(fd, name);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Reads one frame into <paramref name="frame"/>; returns its length, or -1 when none is waiting.</summary>
    /// <exception cref="SyscallException">the read failed for another reason (the interface went away: EIO, EBADFD).</exception>
    public int TryRead(Span<byte> frame)
    {
        long n;
        fixed (byte* p = frame) n = read(Descriptor.Fd, p, (Tmds.Linux.size_t)frame.Length);
        if (n < 0)
        {
            int err = Sys.LastErrno;
            if (err == Errnos.EAGAIN || err == Errnos.EINTR) return -1;
            throw new SyscallException("read(tap)", err, Name);
        }
        Interlocked.Increment(ref _framesRead);
        return (int)n;
    }

    /// <summary>Hands one frame to the interface; returns false if it dropped it (no room, or the link is down).</summary>
    /// <exception cref="SyscallException">the write failed for a reason other than a full queue or a down link.</exception>
    public bool TryWrite(ReadOnlySpan<byte> frame)
    {
        long n;
        fixed (byte* p = frame) n = write(Descriptor.Fd, p, (Tmds.Linux.size_t)frame.Length);
        if (n < 0)
        {
            int err = Sys.LastErrno;
            if (err is Errnos.EAGAIN or Errnos.EINTR or Errnos.EIO or Errnos.EINVAL)
            {
                Interlocked.Increment(ref _writeDrops);
                return false;
            }
            throw new SyscallException("write(tap)", err, Name);
        }
        Interlocked.Increment(ref _framesWritten);
        return true;
    }

    /// <summary>Closes the descriptor (a tap this opened by creating it disappears).</summary>
    public void Dispose() => Descriptor.Dispose();
}
