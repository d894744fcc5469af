using Actorvisor.Actors.Vm;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// Keeps one VM's console for its agent (the parent): subscribed to the VmActor from the moment it is built, it keeps a
/// <see cref="ConsoleBacklog"/> and the console subscribers, who get the backlog, then live output, then
/// <see cref="StreamEnded"/> when the VM ends. It keeps nothing of the VM's state (the node's VM registry does).
/// </summary>
public sealed class VmWatcher : ReceiveActor
{
    /// <summary>The most console bytes in one <see cref="ConsoleOutput"/> message.</summary>
    public const int MaxChunkBytes = 16 * 1024;

    private readonly string _name;
    private readonly IActorRef _vm;
    private readonly ConsoleBacklog _backlog = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private string? _endReason;

    /// <summary>Props for a watcher of <paramref name="vm"/>, the VM named <paramref name="name"/>.</summary>
    public static Props Props(string name, IActorRef vm) => Akka.Actor.Props.Create(() => new VmWatcher(name, vm));

    /// <summary>Use <see cref="Props"/>.</summary>
    public VmWatcher(string name, IActorRef vm)
    {
        _name = name;
        _vm = vm;
        Receive<VmSubscribed>(_ => { });
        Receive<VmStateChanged>(_ => { });
        Receive<VmConsoleOutput>(e =>
        {
            _backlog.Append(e.Bytes);
            foreach (var chunk in Chunks(e.Bytes))
                foreach (var s in _subscribers) s.Tell(new ConsoleOutput(_name, chunk));
        });
        Receive<VmTeardownStepped>(_ => { });
        Receive<VmEnded>(e => End($"the VM {e.Outcome}"));
        Receive<SubscribeConsoleRequest>(r =>
        {
            Sender.Tell(new SubscribedReply(_name, "console", true));
            foreach (var chunk in Chunks(_backlog.ToArray())) r.Subscriber.Tell(new ConsoleOutput(_name, chunk));
            if (_endReason is not null)
            {
                r.Subscriber.Tell(new StreamEnded(_name, _endReason));
                return;
            }
            if (_subscribers.Add(r.Subscriber)) Context.Watch(r.Subscriber);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_vm))
            {
                if (_endReason is null) End("the VM actor stopped");
            }
            else
            {
                _subscribers.Remove(t.ActorRef);
            }
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Context.Watch(_vm);
        _vm.Tell(new SubscribeVm(Self));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        // Destroyed: console subscribers learn the stream is over.
        foreach (var s in _subscribers) s.Tell(new StreamEnded(_name, _endReason ?? "the VM was destroyed"));
    }

    private void End(string reason)
    {
        _endReason = reason;
        foreach (var s in _subscribers) s.Tell(new StreamEnded(_name, reason));
        _subscribers.Clear();
    }

    private static IEnumerable<byte[]> Chunks(byte[] bytes)
    {
        for (int at = 0; at < bytes.Length; at += MaxChunkBytes)
            yield return bytes[at..Math.Min(bytes.Length, at + MaxChunkBytes)];
    }
}
