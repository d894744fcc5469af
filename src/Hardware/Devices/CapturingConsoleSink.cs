using System.Text;
using System.Text.RegularExpressions;

namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Keeps what the guest printed (decoded as UTF-8) and lets callers await a string or pattern appearing
/// in it: the way tests and the runtime wait for a guest to reach a point without sleeping. A guest that
/// prints forever must not exhaust host memory, so only the last <see cref="MaxChars"/> characters are
/// kept (the oldest half is dropped when the limit is passed).
/// </summary>
public sealed class CapturingConsoleSink : IConsoleSink
{
    /// <summary>The default limit on retained characters: 4 Mi.</summary>
    public const int DefaultMaxChars = 4 << 20;

    private readonly object _gate = new();
    private readonly StringBuilder _text = new();
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly List<Waiter> _waiters = [];
    private readonly char[] _chars = new char[256];
    private long _bytes;
    private long _dropped;

    /// <summary>A sink keeping at most <paramref name="maxChars"/> characters of output.</summary>
    public CapturingConsoleSink(int maxChars = DefaultMaxChars)
    {
        if (maxChars < 2) throw new ArgumentOutOfRangeException(nameof(maxChars), maxChars, "must keep at least 2 characters");
        MaxChars = maxChars;
    }

    /// <summary>Most characters retained in <see cref="Text"/>.</summary>
    public int MaxChars { get; }

    /// <summary>Characters dropped from the front of <see cref="Text"/> to stay within <see cref="MaxChars"/>.</summary>
    public long DroppedChars => Interlocked.Read(ref _dropped);

    /// <summary>The text captured so far (its last <see cref="MaxChars"/> characters at most).</summary>
    public string Text
    {
        get { lock (_gate) return _text.ToString(); }
    }

    /// <summary>Number of bytes received so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes);

    /// <inheritdoc />
    public void Write(ReadOnlySpan<byte> bytes)
    {
        List<(Waiter Waiter, Match Match)>? done = null;
        lock (_gate)
        {
            Interlocked.Add(ref _bytes, bytes.Length);
            while (!bytes.IsEmpty)
            {
                int take = Math.Min(bytes.Length, _chars.Length / 2);
                int n = _decoder.GetChars(bytes[..take], _chars, flush: false);
                _text.Append(_chars, 0, n);
                bytes = bytes[take..];
            }
            if (_text.Length > MaxChars)
            {
                int drop = _text.Length - MaxChars / 2;
                _text.Remove(0, drop);
                Interlocked.Add(ref _dropped, drop);
            }
            if (_waiters.Count > 0)
            {
                string text = _text.ToString();
                for (int i = _waiters.Count - 1; i >= 0; i--)
                {
                    var m = _waiters[i].Pattern.Match(text);
                    if (!m.Success) continue;
                    (done ??= []).Add((_waiters[i], m));
                    _waiters.RemoveAt(i);
                }
            }
        }
        // Complete outside the lock: continuations run asynchronously anyway, but keep the vCPU thread's
        // critical section short.
        if (done is not null)
            foreach (var (w, m) in done) w.Complete(m);
    }

    /// <summary>Completes when <paramref name="text"/> has appeared in the captured output (it may already have).</summary>
    /// <exception cref="TimeoutException">it did not appear within <paramref name="timeout"/>; the message shows the output so far.</exception>
    public Task WaitForTextAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        return WaitForAsync(new Regex(Regex.Escape(text), RegexOptions.CultureInvariant), $"\"{text}\"", timeout, cancellationToken);
    }

    /// <summary>Completes with the first match of <paramref name="pattern"/> in the captured output, once there is one.</summary>
    /// <exception cref="TimeoutException">no match within <paramref name="timeout"/>; the message shows the output so far.</exception>
    public Task<Match> WaitForRegexAsync(Regex pattern, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return WaitForAsync(pattern, $"/{pattern}/", timeout, cancellationToken);
    }

    private Task<Match> WaitForAsync(Regex pattern, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "timeout must be positive");
        Waiter waiter;
        lock (_gate)
        {
            var m = pattern.Match(_text.ToString());
            if (m.Success) return Task.FromResult(m);
            waiter = new Waiter(pattern);
            _waiters.Add(waiter);
        }
        waiter.Arm(this, what, timeout, cancellationToken);
        return waiter.Task;
    }

    private void Abandon(Waiter waiter)
    {
        lock (_gate) _waiters.Remove(waiter);
    }

    private sealed class Waiter(Regex pattern)
    {
        private readonly TaskCompletionSource<Match> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenSource? _timer;
        private CancellationTokenRegistration _cancel;

        public Regex Pattern { get; } = pattern;
        public Task<Match> Task => _tcs.Task;

        public void Arm(CapturingConsoleSink sink, string what, TimeSpan timeout, CancellationToken cancellationToken)
        {
            // A write may have matched between registration and arming: then there is nothing to time out.
            if (_tcs.Task.IsCompleted) return;
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                _timer = new CancellationTokenSource(timeout);
                _timer.Token.Register(() =>
                {
                    sink.Abandon(this);
                    if (_tcs.TrySetException(new TimeoutException($"timed out after {timeout.TotalSeconds:0.###} s waiting for {what} on the console; output so far: \"{sink.Text}\"")))
                        Dispose();
                });
            }
            if (cancellationToken.CanBeCanceled)
            {
                _cancel = cancellationToken.Register(() =>
                {
                    sink.Abandon(this);
                    if (_tcs.TrySetCanceled(cancellationToken)) Dispose();
                });
            }
        }

        public void Complete(Match match)
        {
            if (_tcs.TrySetResult(match)) Dispose();
        }

        private void Dispose()
        {
            _timer?.Dispose();
            _cancel.Dispose();
        }
    }
}
