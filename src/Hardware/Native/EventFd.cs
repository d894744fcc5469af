using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// An eventfd(2) counter (non-blocking, close-on-exec): <see cref="Signal"/> adds one, <see cref="TryConsume"/> takes
/// the count. KVM signals one for a guest write it matched (KVM_IOEVENTFD) and injects an interrupt when one is
/// signalled (KVM_IRQFD). Owns the descriptor.
/// </summary>
public sealed unsafe class EventFd : IDisposable
{
    /// <summary>A new eventfd at 0, named <paramref name="what"/> for errors.</summary>
    public EventFd(string what)
    {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        Sys.Check(fd, "eventfd", what);
        Descriptor = new FileDescriptor(fd, $"eventfd:{what}");
    }

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor { get; }

    /// <summary>Adds one to the counter (wakes a poller; with KVM_IRQFD, injects the interrupt).</summary>
    /// <exception cref="SyscallException">the write failed for a reason other than a saturated counter.</exception>
    public void Signal()
    {
        ulong one = 1;
        bool added = false;
        Descriptor.DangerousAddRef(ref added);
        try
        {
            long n = write(Descriptor.Fd, &one, 8);
            // EAGAIN: the counter is at its maximum, so the reader will see it signalled anyway.
            if (n < 0 && Sys.LastErrno != Errnos.EAGAIN) Sys.Check(n, "write(eventfd)", Descriptor.What);
        }
        finally
        {
            if (added) Descriptor.DangerousRelease();
        }
    }

    /// <summary>Reads and resets the counter; returns 0 if it was not signalled.</summary>
    public ulong TryConsume()
    {
        ulong value = 0;
        long n = read(Descriptor.Fd, &value, 8);
        if (n < 0)
        {
            if (Sys.LastErrno == Errnos.EAGAIN) return 0;
            Sys.Check(n, "read(eventfd)", Descriptor.What);
        }
        return value;
    }

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => Descriptor.Dispose();
}
