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
/// Live migration: when its VM migrated away, the streams do not end; the subscribers and the backlog go to the agent
/// (<see cref="ConsoleHandOff"/>), which hands them to the target node. The watcher of an arriving VM
/// (<see cref="ForArrival"/>) is subscribed to the VM by the migration's receiver before the VM runs, learns the VmActor
/// later (<see cref="WatchVm"/>), and holds what the VM prints until the source's subscribers arrive
/// (<see cref="TakeConsoleSubscribers"/>): they get every byte from the first the target printed, none twice.
/// </summary>
public sealed class VmWatcher : ReceiveActor
{
    /// <summary>The most console bytes in one <see cref="ConsoleOutput"/> message.</summary>
    public const int MaxChunkBytes = 16 * 1024;

    /// <summary>The most console bytes an arriving VM's watcher holds for the source's subscribers (beyond it, the oldest are dropped).</summary>
    public const int MaxHeldBytes = 16 * 1024 * 1024;

    private readonly string _name;
    private readonly VmRestartPolicy _policy;
    private IActorRef? _vm;
    private bool _restarting;
    private ConsoleBacklog _backlog = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private List<byte[]>? _held;
    private long _heldBytes;
    private string? _endReason;

    /// <summary>The VM was restarted by its policy: <paramref name="Vm"/> is its new VmActor, whose console follows.</summary>
    public sealed record Follow(IActorRef Vm);

    /// <summary>Props for a watcher of <paramref name="vm"/>, the VM named <paramref name="name"/>, restarted per <paramref name="policy"/>.</summary>
    public static Props Props(string name, IActorRef vm, VmRestartPolicy policy = VmRestartPolicy.Never) =>
        Akka.Actor.Props.Create(() => new VmWatcher(name, vm, policy));

    /// <summary>
    /// Props for the watcher of VM <paramref name="name"/> arriving by live migration (see the type's summary), restarted
    /// per <paramref name="policy"/> once it runs here.
    /// </summary>
    public static Props ForArrival(string name, VmRestartPolicy policy = VmRestartPolicy.Never) =>
        Akka.Actor.Props.Create(() => new VmWatcher(name, null, policy));

    /// <summary>Use <see cref="Props"/> or <see cref="ForArrival"/>.</summary>
    public VmWatcher(string name, IActorRef? vm, VmRestartPolicy policy)
    {
        _name = name;
        _vm = vm;
        _policy = policy;
        if (vm is null) _held = [];
        Receive<VmSubscribed>(_ => { });
        Receive<VmStateChanged>(_ => { });
        Receive<VmConsoleOutput>(e =>
        {
            _backlog.Append(e.Bytes);
            Hold(e.Bytes);
            foreach (var chunk in Chunks(e.Bytes))
                foreach (var s in _subscribers) s.Tell(new ConsoleOutput(_name, chunk));
        });
        Receive<VmTeardownStepped>(_ => { });
        Receive<VmEnded>(e =>
        {
            if (e.Outcome is VmOutcome.MigratedAway away) HandOff(away);
            else if (_policy.RestartsAfter(e.Outcome)) _restarting = true;
            else End($"the VM {e.Outcome}");
        });
        Receive<Follow>(f =>
        {
            if (_vm is not null) Context.Unwatch(_vm);
            _vm = f.Vm;
            _restarting = false;
            if (_endReason is not null) return;
            Context.Watch(_vm);
            _vm.Tell(new SubscribeVm(Self));
        });
        Receive<WatchVm>(m =>
        {
            _vm = m.Vm;
            Context.Watch(m.Vm);
        });
        Receive<TakeConsoleSubscribers>(TakeOver);
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
            if (t.ActorRef.Equals(_vm) && _vm is not null)
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
        if (_vm is null) return;
        Context.Watch(_vm);
        _vm.Tell(new SubscribeVm(Self));
    }

    // An arriving VM's output is held for the source's subscribers until they come.
    private void Hold(byte[] bytes)
    {
        if (_held is null) return;
        _held.Add(bytes);
        _heldBytes += bytes.Length;
        while (_heldBytes > MaxHeldBytes && _held.Count > 1)
        {
            _heldBytes -= _held[0].Length;
            _held.RemoveAt(0);
        }
    }

    private void TakeOver(TakeConsoleSubscribers m)
    {
        var held = _held ?? [];
        _held = null;
        _heldBytes = 0;
        // The backlog for new subscribers: the source's last output, then this copy's.
        var backlog = new ConsoleBacklog();
        backlog.Append(m.Backlog);
        backlog.Append(_backlog.ToArray());
        _backlog = backlog;
        foreach (var subscriber in m.Subscribers)
        {
            foreach (var chunk in held.SelectMany(Chunks)) subscriber.Tell(new ConsoleOutput(_name, chunk));
            if (_endReason is not null) subscriber.Tell(new StreamEnded(_name, _endReason));
            else if (_subscribers.Add(subscriber)) Context.Watch(subscriber);
        }
    }

    // The VM moved to another node: its subscribers and backlog go there (through the agent), their streams go on.
    private void HandOff(VmOutcome.MigratedAway away)
    {
        Context.Parent.Tell(new ConsoleHandOff(_name, [.. _subscribers], _backlog.ToArray()));
        foreach (var s in _subscribers) Context.Unwatch(s);
        _subscribers.Clear();
        _endReason = $"the VM migrated to {away.Target}";
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

/// <summary>The arriving VM's watcher learns its VmActor (it was subscribed to it already, by the migration's receiver).</summary>
internal sealed record WatchVm(IActorRef Vm);

/// <summary>
/// An arriving VM's watcher takes the source's console <paramref name="Subscribers"/>, whose streams go on from the first
/// byte this copy printed, and puts <paramref name="Backlog"/> (the source's) before its own.
/// </summary>
internal sealed record TakeConsoleSubscribers(IReadOnlyList<IActorRef> Subscribers, byte[] Backlog);

/// <summary>A watcher's VM migrated away: its console <paramref name="Subscribers"/> and <paramref name="Backlog"/>, for the agent to hand to the target.</summary>
internal sealed record ConsoleHandOff(string Vm, IReadOnlyList<IActorRef> Subscribers, byte[] Backlog);
