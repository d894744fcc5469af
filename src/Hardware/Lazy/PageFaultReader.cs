using Actorvisor.Hardware.Lazy.Uapi;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Lazy;

/// <summary>
/// The dedicated thread that waits on a userfaultfd and hands every page-fault message to a callback.
/// It sleeps in poll(2) on the userfaultfd and on an eventfd; <see cref="Stop"/> writes the eventfd, so
/// stopping takes effect at once even while no fault arrives.
/// </summary>
public sealed unsafe class PageFaultReader : IDisposable
{
    private const int BatchSize = 16;
    private static readonly int PollFailure = (ushort)POLLERR | (ushort)POLLHUP | (ushort)POLLNVAL;

    private readonly Userfaultfd _uffd;
    private readonly Action<UffdMsg> _onFault;
    private readonly FileDescriptor _stop;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _messages;
    private long _callbackErrors;
    private Exception? _lastError;

    /// <summary>Starts the reader thread, named <paramref name="name"/>.</summary>
    public PageFaultReader(Userfaultfd uffd, Action<UffdMsg> onFault, string name)
    {
        _uffd = uffd;
        _onFault = onFault;
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        Sys.Check(efd, "eventfd", name);
        _stop = new FileDescriptor(efd, $"eventfd:{name}-stop");
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Page-fault messages delivered to the callback so far.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>How many times the callback threw (the reader keeps going; that fault stays pending).</summary>
    public long CallbackErrors => Interlocked.Read(ref _callbackErrors);

    /// <summary>The last exception the callback threw, or the error that ended the reader; null if none.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>True while the reader thread runs.</summary>
    public bool IsRunning => _thread.IsAlive;

    /// <summary>
    /// Asks the reader to stop and waits up to <paramref name="timeout"/> for it (it finishes the callback in
    /// progress first). Returns true if it has stopped. Idempotent.
    /// </summary>
    public bool Stop(TimeSpan timeout)
    {
        _stopping = true;
        if (!_stop.IsClosed)
        {
            ulong one = 1;
            bool added = false;
            _stop.DangerousAddRef(ref added);
            try { write(_stop.Fd, &one, 8); } // an eventfd write only fails on counter overflow: already signalled
            finally { if (added) _stop.DangerousRelease(); }
        }
        return Thread.CurrentThread == _thread || _thread.Join(timeout);
    }

    /// <summary>Stops the reader (waiting up to 10 s) and closes its eventfd once the thread has ended.</summary>
    public void Dispose()
    {
        if (Stop(TimeSpan.FromSeconds(10))) _stop.Dispose();
    }

    private void Loop()
    {
        Span<UffdMsg> batch = stackalloc UffdMsg[BatchSize];
        var fds = stackalloc Tmds.Linux.pollfd[2];
        try
        {
            while (!_stopping)
            {
                fds[0] = new Tmds.Linux.pollfd { fd = _uffd.Descriptor.Fd, events = (short)POLLIN };
                fds[1] = new Tmds.Linux.pollfd { fd = _stop.Fd, events = (short)POLLIN };
                int r = poll(fds, 2, -1);
                if (r < 0)
                {
                    int err = errno;
                    if (err == Errnos.EINTR) continue;
                    throw new SyscallException("poll(userfaultfd)", err);
                }
                if (fds[1].revents != 0) return;
                if (((ushort)fds[0].revents & PollFailure) != 0)
                    throw new InvalidOperationException($"userfaultfd reported poll events 0x{fds[0].revents:x}");
                int n;
                while ((n = _uffd.ReadMessages(batch)) > 0)
                {
                    for (int i = 0; i < n; i++)
                    {
                        if (!batch[i].IsPageFault) continue; // no other event is enabled
                        Interlocked.Increment(ref _messages);
                        try { _onFault(batch[i]); }
                        catch (Exception e)
                        {
                            Interlocked.Increment(ref _callbackErrors);
                            Volatile.Write(ref _lastError, e);
                        }
                    }
                }
            }
        }
        catch (Exception e) when (e is SyscallException or InvalidOperationException or ObjectDisposedException)
        {
            // The descriptor went away under us (teardown) or the kernel refused: record it and end.
            Volatile.Write(ref _lastError, e);
        }
    }
}
