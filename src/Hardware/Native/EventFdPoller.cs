using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A dedicated thread that sleeps in poll(2) on a fixed set of <see cref="EventFd"/>s and, for each one signalled,
/// consumes it and calls its callback (which must only hand the work on). The VMM's event loop for KVM ioeventfds:
/// a guest's queue notification wakes this thread, never the vCPU's. <see cref="Dispose"/> stops it through an
/// eventfd of its own. It does not own the watched eventfds.
/// </summary>
public sealed unsafe class EventFdPoller : IDisposable
{
    private static readonly short Readable = (short)POLLIN;

    private readonly (EventFd Fd, Action Callback)[] _watched;
    private readonly EventFd _stop;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _wakeups, _callbackErrors;
    private Exception? _lastError;

    /// <summary>Starts the thread, named <paramref name="name"/>, watching <paramref name="watched"/>.</summary>
    public EventFdPoller(IEnumerable<(EventFd Fd, Action Callback)> watched, string name)
    {
        ArgumentNullException.ThrowIfNull(watched);
        _watched = [.. watched];
        _stop = new EventFd($"{name}-stop");
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Callbacks run so far (one per signalled eventfd per wake-up).</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Callbacks that threw (the poller goes on).</summary>
    public long CallbackErrors => Interlocked.Read(ref _callbackErrors);

    /// <summary>The last exception a callback threw, or the error that ended the thread.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>True while the thread runs.</summary>
    public bool IsRunning => _thread.IsAlive;

    private void Loop()
    {
        int count = _watched.Length + 1;
        var fds = new Tmds.Linux.pollfd[count];
        try
        {
            while (!_stopping)
            {
                fds[0] = new Tmds.Linux.pollfd { fd = _stop.Descriptor.Fd, events = Readable };
                for (int i = 0; i < _watched.Length; i++) fds[i + 1] = new Tmds.Linux.pollfd { fd = _watched[i].Fd.Descriptor.Fd, events = Readable };
                int r;
                fixed (Tmds.Linux.pollfd* p = fds) r = poll(p, (uint)count, -1);
                if (r < 0)
                {
                    if (Sys.LastErrno == Errnos.EINTR) continue;
                    Sys.Check(r, "poll", _thread.Name);
                }
                if (_stopping) break;
                for (int i = 0; i < _watched.Length; i++)
                {
                    if ((fds[i + 1].revents & Readable) == 0 || _watched[i].Fd.TryConsume() == 0) continue;
                    Interlocked.Increment(ref _wakeups);
                    try { _watched[i].Callback(); }
                    catch (Exception e)
                    {
                        Interlocked.Increment(ref _callbackErrors);
                        Volatile.Write(ref _lastError, e);
                    }
                }
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _lastError, e);
        }
    }

    /// <summary>Stops the thread (waiting up to 10 s for the callback in progress) and closes the stop eventfd.</summary>
    public void Dispose()
    {
        _stopping = true;
        if (!_stop.Descriptor.IsClosed) _stop.Signal();
        if (Thread.CurrentThread == _thread || _thread.Join(TimeSpan.FromSeconds(10))) _stop.Dispose();
    }
}
