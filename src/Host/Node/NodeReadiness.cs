using Akka.Actor;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Actorvisor.Host.Node;

/// <summary>
/// Whether this node is ready for work (<c>/readyz</c>): owns the link to the node's actor system, attached
/// once the API gateway is registered. Ready means the node is an Up member of its cluster, serving the API,
/// and not shutting down; it answers from the live cluster state at each call, so it follows join and leave.
/// </summary>
public sealed class NodeReadiness
{
    private volatile ActorSystem? _system;

    /// <summary>Called once the API gateway of <paramref name="system"/> is registered with the receptionist.</summary>
    public void ApiServing(ActorSystem system) => _system = system;

    /// <summary>Ready or not, and why, in words an operator reads.</summary>
    public (bool Ready, string Reason) Check()
    {
        var system = _system;
        if (system is null) return (false, "not ready: the actor system and the API are starting");
        if (system.WhenTerminated.IsCompleted) return (false, "not ready: the actor system has stopped");
        if (CoordinatedShutdown.Get(system).ShutdownReason is { } reason) return (false, $"not ready: shutting down ({reason.GetType().Name})");
        var self = AkkaCluster.Get(system).SelfMember;
        return self.Status == MemberStatus.Up
            ? (true, $"ready: Up in cluster {system.Name}, serving the API")
            : (false, $"not ready: cluster member status {self.Status}");
    }
}
