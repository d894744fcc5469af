using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A dedicated thread that sleeps in poll(2) until a descriptor it does not own (a tap) is readable, then calls its
/// callback once and stops watching that descriptor until <see cref="Arm"/> is called: the reader drains the
/// descriptor at its own pace (the device actor, when the guest has buffers) and re-arms when it found it empty, so
/// frames waiting for guest buffers do not spin the thread. The <see cref="EventFdPoller"/> pattern with a one-shot
/// interest; <see cref="Dispose"/> stops it through an eventfd of its own.
/// </summary>
public sealed unsafe class OneShotReadPoller : IDisposable
{
    private static readonly short Readable = (short)POLLIN;
    private const short ReadableOrGone = 0x0001 | 0x0008 | 0x0010; // POLLIN | POLLERR | POLLHUP

    private readonly FileDescriptor _watched;
    private readonly Action _readable;
    private readonly EventFd _stop, _arm;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _wakeups;
    private Exception? _lastError;

    /// <summary>Starts the thread, named <paramref name="name"/>, armed on <paramref name="watched"/>.</summary>
    public OneShotReadPoller(FileDescriptor watched, Action readable, string name)
    {
        _watched = watched ?? throw new ArgumentNullException(nameof(watched));
        _readable = readable ?? throw new ArgumentNullException(nameof(readable));
        _stop = new EventFd($"{name}-stop");
        _arm = new EventFd($"{name}-arm");
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Times the descriptor was found readable and the callback run.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>The last exception the callback threw, or the error that ended the thread.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Watch the descriptor again (call after reading it empty). Harmless while already armed.</summary>
    public void Arm()
    {
        if (!_stopping) _arm.Signal();
    }

    private void Loop()
    {
        var fds = new Tmds.Linux.pollfd[3];
        bool armed = true;
        try
        {
            while (!_stopping)
            {
                fds[0] = new Tmds.Linux.pollfd { fd = _stop.Descriptor.Fd, events = Readable };
                fds[1] = new Tmds.Linux.pollfd { fd = _arm.Descriptor.Fd, events = Readable };
                fds[2] = new Tmds.Linux.pollfd { fd = _watched.Fd, events = Readable };
                int r;
                fixed (Tmds.Linux.pollfd* p = fds) r = poll(p, armed ? 3u : 2u, -1);
                if (r < 0)
                {
                    if (Sys.LastErrno == Errnos.EINTR) continue;
                    Sys.Check(r, "poll", _thread.Name);
                }
                if (_stopping) break;
                if ((fds[1].revents & Readable) != 0 && _arm.TryConsume() != 0) armed = true;
                if (!armed || (fds[2].revents & ReadableOrGone) == 0) continue;
                armed = false;
                Interlocked.Increment(ref _wakeups);
                try { _readable(); }
                catch (Exception e) { Volatile.Write(ref _lastError, e); }
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _lastError, e);
        }
    }

    /// <summary>Stops the thread (waiting up to 10 s for the callback in progress) and closes its eventfds.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        if (!_stop.Descriptor.IsClosed) _stop.Signal();
        if (Thread.CurrentThread == _thread || _thread.Join(TimeSpan.FromSeconds(10)))
        {
            _stop.Dispose();
            _arm.Dispose();
        }
    }
}
