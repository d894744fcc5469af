using Akka.Actor;
using Akka.Event;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// The one writer of the node's state database (<see cref="NodeStateStore"/>): the child "state" of the hypervisor
/// agent, beside the VM registry. Its writes are blocking SQLite transactions, so it runs on its own thread
/// (<see cref="Dispatcher"/>, a pinned dispatcher) and never on the threads the VMs' actors use; its mailbox orders the
/// writes. Each write is answered once it is on disk (<see cref="NodeStateSaved"/>) or with a failure naming the file.
/// </summary>
public sealed class NodeStateActor : ReceiveActor
{
    /// <summary>The dispatcher it runs on (configured by <see cref="NodeHocon"/>).</summary>
    public const string Dispatcher = "actorvisor.node-state-dispatcher";

    /// <summary>The HOCON of <see cref="Dispatcher"/>: one thread of its own.</summary>
    public const string DispatcherHocon = """
        actorvisor.node-state-dispatcher {
          type = PinnedDispatcher
        }
        """;

    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Props for the writer of <paramref name="store"/>, on <see cref="Dispatcher"/>.</summary>
    public static Props Props(NodeStateStore store) => Akka.Actor.Props.Create(() => new NodeStateActor(store)).WithDispatcher(Dispatcher);

    /// <summary>Use <see cref="Props"/>.</summary>
    public NodeStateActor(NodeStateStore store)
    {
        Receive<SaveVmDefinition>(m => Write(m, () => store.Define(m.Spec)));
        Receive<SaveVmIntent>(m => Write(m, () => store.SetIntent(m.Name, m.Intent)));
        Receive<SaveVmRestarts>(m => Write(m, () => store.SetRestarts(m.Name, m.Restarts)));
        Receive<SaveVmManagedSave>(m => Write(m, () => store.SetManagedSave(m.Name, m.Snapshot)));
        Receive<ForgetVmDefinition>(m => Write(m, () => store.Remove(m.Name)));
    }

    private void Write(INodeStateWrite m, Action write)
    {
        try
        {
            write();
            Sender.Tell(new NodeStateSaved(m.Name));
        }
        catch (NodeStateException e)
        {
            _log.Error("VM {0}: {1}", m.Name, e.Message);
            Sender.Tell(new Status.Failure(e));
        }
    }
}
