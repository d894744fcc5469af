using System.Collections.Immutable;
using System.Net.Sockets;
using System.Text;
using Actorvisor.Host.Api.V1;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Garbage, oversize and unknown payloads sent to a live node are rejected and logged; the node keeps answering.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BadPayloadTests(LocalCluster cluster) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private ActorSystem _rogue = null!;

    public Task InitializeAsync()
    {
        _rogue = ActorSystem.Create("rogue", ConfigurationFactory.ParseString(RogueSerializer.Hocon + """

            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.loglevel = OFF
            akka.stdout-loglevel = OFF
            """));
        _rogue.Settings.InjectTopLevelFallback(ClusterClientReceptionist.DefaultConfig());
        _rogue.Settings.InjectTopLevelFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _rogue.Terminate();

    private ActorSelection Api(int node) => _rogue.ActorSelection($"akka.tcp://actorvisor@{cluster.Contact(node)}{ApiPaths.Gateway}");

    private async Task StillAnswers()
    {
        var reply = await cluster.Client.RequestAsync(new ClusterStatusRequest());
        var status = Assert.IsType<ClusterStatusReply>(reply);
        Assert.Equal(3, status.Nodes.Count(n => n.Status == "Up"));
        Assert.All(cluster.Nodes, n => Assert.False(n.HasExited, $"{n.Name} exited:\n{n.Output}"));
    }

    [Fact]
    public async Task Garbage_bytes_under_an_api_manifest_are_rejected()
    {
        var garbage = new byte[4096];
        new Random(1).NextBytes(garbage);
        var logged = cluster.Nodes[1].WaitForLineAsync("ApiSerializer rejected a payload (manifest 'v1.create-vm', 4096 bytes): malformed payload", Wait);
        Api(1).Tell(new RoguePayload("v1.create-vm", garbage));
        await logged;
        await StillAnswers();
    }

    [Fact]
    public async Task An_unknown_manifest_is_rejected()
    {
        var logged = cluster.Nodes[2].WaitForLineAsync("manifest 'v9.take-over', 2 bytes): unknown manifest", Wait);
        Api(2).Tell(new RoguePayload("v9.take-over", "{}"u8.ToArray()));
        await logged;
        await StillAnswers();
    }

    [Fact]
    public async Task An_oversize_request_is_rejected()
    {
        var size = 3_000_000;
        var json = Encoding.UTF8.GetBytes($"{{\"name\":\"{new string('a', size)}\"}}");
        var logged = cluster.Nodes[0].WaitForLineAsync($"manifest 'v1.start-vm', {json.Length} bytes): the payload is {json.Length} bytes, more than the {ApiSerializer.MaxRequestBytes} allowed", Wait);
        Api(0).Tell(new RoguePayload("v1.start-vm", json));
        await logged;
        await StillAnswers();
    }

    [Fact]
    public async Task Garbage_inside_a_cluster_client_envelope_is_rejected()
    {
        var contacts = new[] { ActorPath.Parse($"akka.tcp://actorvisor@{cluster.Contact(0)}/system/receptionist") }.ToHashSet();
        var client = _rogue.ActorOf(ClusterClient.Props(ClusterClientSettings.Create(_rogue).WithInitialContacts(contacts.ToImmutableHashSet())));
        var logged = Task.WhenAny(cluster.Nodes.Select(n => n.WaitForLineAsync("manifest 'v1.list-vms', 5 bytes): malformed payload", Wait))).Unwrap();
        client.Tell(new ClusterClient.Send(ApiPaths.Gateway, new RoguePayload("v1.list-vms", "{{{{{"u8.ToArray())));
        await logged;
        await StillAnswers();
    }

    [Fact]
    public async Task A_message_that_is_not_an_api_request_gets_a_typed_error()
    {
        // A valid API message, but a reply type: the gateway answers with an error rather than ignoring it.
        var reply = await Api(0).Ask<object>(new RoguePayload("v1.vm-list", "{\"vms\":[]}"u8.ToArray()), Wait);
        var error = Assert.IsType<RoguePayload>(reply);
        Assert.Equal("v1.error", error.Manifest);
        Assert.Contains("InvalidRequest", Encoding.UTF8.GetString(error.Bytes));
        await StillAnswers();
    }

    [Fact]
    public async Task Raw_tcp_garbage_does_not_disturb_the_node()
    {
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", cluster.Ports[1]);
            var garbage = new byte[64 * 1024];
            new Random(2).NextBytes(garbage);
            try
            {
                await tcp.GetStream().WriteAsync(garbage);
            }
            catch (IOException)
            {
                // The node may close the connection mid-write: that is the point.
            }
        }
        await StillAnswers();
        var viaNode2 = await ActorvisorProcess.RunAsync(cluster.Cli(1, "cluster", "status", "--json"));
        Assert.True(viaNode2.ExitCode == 0, viaNode2.ToString());
    }
}
