using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Akka.Actor;
using Akka.Configuration;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// The VM directory judges announcements by the membership its own subscription delivered, not by
/// Cluster.State (updated by another actor, so it can lag): an announcement that arrives before its node's member
/// event is kept and applied once the node is up, instead of being dropped (which left a node unannounced for
/// good, and a 3-node test cluster never ready).
/// </summary>
public sealed class VmDirectoryMembershipTests() : Akka.TestKit.Xunit2.TestKit(ClusterConfig)
{
    private static readonly Config ClusterConfig = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.cluster.roles = [hypervisor]
        akka.loglevel = WARNING
        """);

    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public void An_announcement_sent_before_the_node_joined_is_applied_when_it_is_up()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        var directory = Sys.ActorOf(VmDirectory.Props("/user/no-agent-here"), "directory");
        var agent = CreateTestProbe();
        var info = new NodeInfo("n1", cluster.SelfAddress.ToString(), "software", "software accelerator (test)", 4, 1UL << 30);

        // Not a member yet: the directory cannot accept it, and must not forget it either.
        directory.Tell(new NodeAnnouncement(info, agent.Ref, []), agent.Ref);
        var status = CreateTestProbe();
        directory.Tell(new ClusterStatusRequest(), status.Ref);
        Assert.DoesNotContain(status.ExpectMsg<ClusterStatusReply>(Long).Nodes, n => n.Name == "n1");

        cluster.Join(cluster.SelfAddress);
        Assert.Equal("n1", agent.FishForMessage<AnnouncementAccepted>(_ => true, Long).Node);
        // The status lists members from Cluster.State, which may show the node a moment after it was accepted. The
        // status gathers each node's report of its VMs: this probe agent does not answer, so with a 2 s deadline the
        // directory answers within it, naming n1 as a node that did not answer.
        AwaitAssert(() =>
        {
            directory.Tell(new ClusterStatusRequest { DeadlineMs = 2000 }, status.Ref);
            var reply = status.ExpectMsg<ClusterStatusReply>(Long);
            var node = Assert.Single(reply.Nodes);
            Assert.Equal(("n1", "Up", "software", 4), (node.Name, node.Status, node.Accelerator, node.Vcpus));
            Assert.Equal(["n1"], reply.UnansweredNodes!);
        }, Long, TimeSpan.FromMilliseconds(50));
        Assert.True(agent.FishForMessage<ReportNodeVms>(_ => true, Long).DeadlineMs < 2000);
    }
}
