using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vm;
using Actorvisor.Host.Api.V1;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// Keeps one VM's console for its agent (the parent): subscribed to the VmActor from the moment it is built, it keeps a
/// <see cref="ConsoleBacklog"/> and the console subscribers, who get the backlog, then live output, then
/// <see cref="StreamEnded"/> when the VM ends for good. An end that the VM's restart policy restarts is not the end of
/// the stream: the agent tells the watcher the new VmActor (<see cref="Follow"/>) and the subscribers get its output
/// next, after the backlog of the runs before. It keeps nothing of the VM's state (the node's VM registry does).
/// </summary>
public sealed class VmWatcher : ReceiveActor
{
    /// <summary>The most console bytes in one <see cref="ConsoleOutput"/> message.</summary>
    public const int MaxChunkBytes = 16 * 1024;

    private readonly string _name;
    private readonly VmRestartPolicy _policy;
    private IActorRef _vm;
    private bool _restarting;
    private readonly ConsoleBacklog _backlog = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private string? _endReason;

    /// <summary>The VM was restarted by its policy: <paramref name="Vm"/> is its new VmActor, whose console follows.</summary>
    public sealed record Follow(IActorRef Vm);

    /// <summary>Props for a watcher of <paramref name="vm"/>, the VM named <paramref name="name"/>, restarted per <paramref name="policy"/>.</summary>
    public static Props Props(string name, IActorRef vm, VmRestartPolicy policy = VmRestartPolicy.Never) =>
        Akka.Actor.Props.Create(() => new VmWatcher(name, vm, policy));

    /// <summary>Use <see cref="Props"/>.</summary>
    public VmWatcher(string name, IActorRef vm, VmRestartPolicy policy)
    {
        _name = name;
        _vm = vm;
        _policy = policy;
        Receive<VmSubscribed>(_ => { });
        Receive<VmStateChanged>(_ => { });
        Receive<VmConsoleOutput>(e =>
        {
            _backlog.Append(e.Bytes);
            foreach (var chunk in Chunks(e.Bytes))
                foreach (var s in _subscribers) s.Tell(new ConsoleOutput(_name, chunk));
        });
        Receive<VmTeardownStepped>(_ => { });
        Receive<VmEnded>(e =>
        {
            if (_policy.RestartsAfter(e.Outcome)) _restarting = true;
            else End($"the VM {e.Outcome}");
        });
        Receive<Follow>(f =>
        {
            Context.Unwatch(_vm);
            _vm = f.Vm;
            _restarting = false;
            if (_endReason is not null) return;
            Context.Watch(_vm);
            _vm.Tell(new SubscribeVm(Self));
        });
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
                // A VmActor that stops without an end crashed: a failure, which the policy may restart.
                if (_endReason is null && !_restarting && !_policy.RestartsAfter(new VmOutcome.Failed("the VM actor stopped"))) End("the VM actor stopped");
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
