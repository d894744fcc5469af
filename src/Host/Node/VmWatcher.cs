using Actorvisor.Actors.Vm;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// Follows one VM for its agent (the parent): subscribed to the VmActor from the moment it is built, it keeps
/// the VM's record (reported to the parent on every state change, which passes it to the directory), a
/// <see cref="ConsoleBacklog"/>, and the console subscribers, who get the backlog, then live output, then
/// <see cref="StreamEnded"/> when the VM ends.
/// </summary>
public sealed class VmWatcher : ReceiveActor
{
    /// <summary>The most console bytes in one <see cref="ConsoleOutput"/> message.</summary>
    public const int MaxChunkBytes = 16 * 1024;

    private readonly IActorRef _vm;
    private readonly ConsoleBacklog _backlog = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private VmInfo _record;
    private string? _endReason;

    /// <summary>Props for a watcher of <paramref name="vm"/>, whose record starts as <paramref name="record"/>.</summary>
    public static Props Props(VmInfo record, IActorRef vm) => Akka.Actor.Props.Create(() => new VmWatcher(record, vm));

    /// <summary>Use <see cref="Props"/>.</summary>
    public VmWatcher(VmInfo record, IActorRef vm)
    {
        _record = record;
        _vm = vm;
        Receive<VmSubscribed>(_ => { });
        Receive<VmStateChanged>(e => Report(_record with { Status = VmStatuses.Of(e.To) }));
        Receive<VmConsoleOutput>(e =>
        {
            _backlog.Append(e.Bytes);
            foreach (var chunk in Chunks(e.Bytes))
                foreach (var s in _subscribers) s.Tell(new ConsoleOutput(_record.Name, chunk));
        });
        Receive<VmTeardownStepped>(_ => { });
        Receive<VmEnded>(e => End(_record with { Status = VmStatuses.Of(e.Outcome.FinalState), Outcome = e.Outcome.ToString() }, $"the VM {e.Outcome}"));
        Receive<SubscribeConsoleRequest>(r =>
        {
            Sender.Tell(new SubscribedReply(_record.Name, "console", true));
            foreach (var chunk in Chunks(_backlog.ToArray())) r.Subscriber.Tell(new ConsoleOutput(_record.Name, chunk));
            if (_endReason is not null)
            {
                r.Subscriber.Tell(new StreamEnded(_record.Name, _endReason));
                return;
            }
            if (_subscribers.Add(r.Subscriber)) Context.Watch(r.Subscriber);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_vm))
            {
                if (_endReason is null) End(_record with { Status = VmStatus.Failed, Outcome = "failed: the VM actor stopped" }, "the VM actor stopped");
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
        foreach (var s in _subscribers) s.Tell(new StreamEnded(_record.Name, _endReason ?? "the VM was destroyed"));
    }

    private void End(VmInfo record, string reason)
    {
        _endReason = reason;
        Report(record);
        foreach (var s in _subscribers) s.Tell(new StreamEnded(_record.Name, reason));
        _subscribers.Clear();
    }

    private void Report(VmInfo record)
    {
        if (record == _record) return;
        _record = record;
        Context.Parent.Tell(new VmRecordChanged(record));
    }

    private static IEnumerable<byte[]> Chunks(byte[] bytes)
    {
        for (int at = 0; at < bytes.Length; at += MaxChunkBytes)
            yield return bytes[at..Math.Min(bytes.Length, at + MaxChunkBytes)];
    }
}
