using System.Text;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Web;

/// <summary>
/// Collects one VM's console for an HTTP console tail: it is the subscriber of a <see cref="SubscribeConsoleRequest"/>,
/// keeps the last bytes it receives (the node's backlog, then live output), and answers <see cref="Finish"/> with a
/// <see cref="ConsoleTail"/> once the stream ended or went quiet for <see cref="Quiet"/> (at most <see cref="MostWait"/>
/// after <see cref="Finish"/>); then it stops, which ends the subscription.
/// </summary>
public sealed class ConsoleTailCollector : ReceiveActor, IWithTimers
{
    /// <summary>How long without output counts as "the backlog has arrived".</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    /// <summary>The longest a tail waits for output to go quiet (a guest that prints without pause).</summary>
    public static readonly TimeSpan MostWait = TimeSpan.FromSeconds(3);

    private readonly string _vm;
    private readonly int _maxBytes;
    private readonly Queue<byte[]> _chunks = new();
    private long _kept;
    private long _received;
    private string? _ended;
    private IActorRef? _asker;

    /// <summary>Props for a collector of VM <paramref name="vm"/>'s console keeping its last <paramref name="maxBytes"/>.</summary>
    public static Props Props(string vm, int maxBytes) => Akka.Actor.Props.Create(() => new ConsoleTailCollector(vm, maxBytes));

    /// <summary>Use <see cref="Props"/>.</summary>
    public ConsoleTailCollector(string vm, int maxBytes)
    {
        _vm = vm;
        _maxBytes = maxBytes;
        Receive<ConsoleOutput>(o =>
        {
            Keep(o.Bytes);
            if (_asker is not null) Timers.StartSingleTimer("quiet", QuietPassed.Instance, Quiet);
        });
        Receive<StreamEnded>(e =>
        {
            _ended = e.Reason;
            if (_asker is not null) Answer();
        });
        Receive<Finish>(_ =>
        {
            _asker = Sender;
            if (_ended is not null)
            {
                Answer();
                return;
            }
            Timers.StartSingleTimer("quiet", QuietPassed.Instance, Quiet);
            Timers.StartSingleTimer("most", QuietPassed.Instance, MostWait);
        });
        Receive<QuietPassed>(_ => Answer());
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private void Keep(byte[] bytes)
    {
        _received += bytes.Length;
        _chunks.Enqueue(bytes);
        _kept += bytes.Length;
        while (_chunks.Count > 1 && _kept - _chunks.Peek().Length >= _maxBytes) _kept -= _chunks.Dequeue().Length;
    }

    private void Answer()
    {
        var all = _chunks.SelectMany(c => c).ToArray();
        var tail = all.Length > _maxBytes ? all[^_maxBytes..] : all;
        _asker!.Tell(new ConsoleTail(_vm, Encoding.UTF8.GetString(tail), tail.Length, _received, _ended));
        Context.Stop(Self);
    }

    /// <summary>Asks for the tail once the subscription was accepted.</summary>
    public sealed record Finish
    {
        /// <summary>The one instance.</summary>
        public static readonly Finish Instance = new();
    }

    private sealed record QuietPassed
    {
        public static readonly QuietPassed Instance = new();
    }
}
