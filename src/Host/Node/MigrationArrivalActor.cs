using Actorvisor.Actors.Migration;
using Akka.Actor;

namespace Actorvisor.Host.Node;

/// <summary>
/// One VM arriving on this node by live migration, as the agent (its parent) asked for it: it asks the node's
/// <see cref="MigrationReceiverActor"/> to receive VM <c>name</c> (its console watcher subscribed before it runs) and
/// passes each answer to the agent tagged with the VM's name (<see cref="ArrivalNews"/>): where the receiver listens,
/// then the VM running here or why it never will. It stops after the last.
/// </summary>
public sealed class MigrationArrivalActor : ReceiveActor
{
    /// <summary>Props for the arrival of VM <paramref name="name"/> through <paramref name="receiver"/>, whose console goes to <paramref name="watcher"/>.</summary>
    public static Props Props(string name, IActorRef receiver, IActorRef watcher) =>
        Akka.Actor.Props.Create(() => new MigrationArrivalActor(name, receiver, watcher));

    /// <summary>Use <see cref="Props"/>.</summary>
    public MigrationArrivalActor(string name, IActorRef receiver, IActorRef watcher)
    {
        receiver.Tell(new ReceiveMigration(name, watcher));
        Receive<MigrationListening>(m => Context.Parent.Tell(new ArrivalNews(name, m)));
        Receive<MigrationArrived>(m => Last(name, m));
        Receive<MigrationReceiveFailed>(m => Last(name, m));
    }

    private void Last(string name, object news)
    {
        Context.Parent.Tell(new ArrivalNews(name, news));
        Context.Stop(Self);
    }
}

/// <summary>What the receiver said of VM <paramref name="Vm"/>'s arrival: <c>MigrationListening</c>, <c>MigrationArrived</c> or <c>MigrationReceiveFailed</c>.</summary>
internal sealed record ArrivalNews(string Vm, object News);
