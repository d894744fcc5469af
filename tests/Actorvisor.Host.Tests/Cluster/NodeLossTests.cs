using System.Diagnostics;
using Xunit.Abstractions;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>A cluster of its own, because this test kills one of its nodes; a short failure window so the loss shows quickly.</summary>
public sealed class NodeLossCluster : LocalCluster
{
    /// <inheritdoc />
    public override string StableAfter => "2s";

    /// <inheritdoc />
    public override string HeartbeatPause => "3s";
}

/// <summary>kill -9 of a node: its VMs become Lost within the split-brain resolver's window; the rest keep working.</summary>
[Collection(ClusterCollection.Name)]
public sealed class NodeLossTests(NodeLossCluster cluster, ITestOutputHelper output) : IClassFixture<NodeLossCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    [Fact]
    public async Task Vms_of_a_killed_node_become_lost_and_the_others_keep_answering()
    {
        foreach (var (name, node) in new[] { ("keep-1", "n1"), ("keep-2", "n2"), ("doomed-1", "n3"), ("doomed-2", "n3") })
            await Ok<VmReply>(new CreateVmRequest(new VmSpecification(name, 1, 16UL << 20, "hello", Node: node)));

        var lostOne = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lostAll = new List<string>();
        var bothLost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var perVm = cluster.Client.Subscribe(m =>
        {
            if (m is VmEventNotice { Status: VmStatus.Lost } n) lostOne.TrySetResult(n);
        });
        var all = cluster.Client.Subscribe(m =>
        {
            if (m is not VmEventNotice { Status: VmStatus.Lost } n) return;
            lock (lostAll)
            {
                lostAll.Add(n.Vm);
                if (lostAll.Count == 2) bothLost.TrySetResult();
            }
        });
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest("doomed-1", perVm));
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, all));

        var clock = Stopwatch.StartNew();
        cluster.Nodes[2].KillHard();
        var notice = await lostOne.Task.WaitAsync(Wait);
        await bothLost.Task.WaitAsync(Wait);
        var elapsed = clock.Elapsed;
        Assert.Equal(("doomed-1", "n3"), (notice.Vm, notice.Node));
        Assert.Contains("node n3 was downed", notice.Detail);
        lock (lostAll) Assert.Equal(["doomed-1", "doomed-2"], lostAll.Order());
        // Heartbeat pause 3 s + stable-after 2 s + gossip rounds: a few seconds; the bound leaves room for a busy machine.
        output.WriteLine($"kill -9 of n3 -> both of its VMs reported Lost after {elapsed.TotalSeconds:0.0} s");
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"Lost after {elapsed}");

        var list = (await Ok<VmListReply>(new ListVmsRequest())).Vms.ToDictionary(v => v.Name);
        Assert.Equal(VmStatus.Lost, list["doomed-1"].Status);
        Assert.Equal(VmStatus.Lost, list["doomed-2"].Status);
        Assert.Equal(VmStatus.Created, list["keep-1"].Status);
        Assert.Equal(VmStatus.Created, list["keep-2"].Status);

        // The survivors still run VMs and answer.
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var console = cluster.Client.Subscribe(m => { if (m is StreamEnded e) ended.TrySetResult(e.Reason); });
        await Ok<SubscribedReply>(new SubscribeConsoleRequest("keep-2", console));
        await Ok<VmReply>(new StartVmRequest("keep-2"));
        Assert.Contains("exited with result code 0", await ended.Task.WaitAsync(Wait));
        var status = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        Assert.Equal(["n1", "n2"], status.Nodes.Where(n => n.Status == "Up").Select(n => n.Name));

        // A lost VM refuses operations with a clear error, and destroying it frees its name.
        var refused = await cluster.Client.RequestAsync(new StartVmRequest("doomed-1"));
        Assert.Equal(ApiErrorCode.NodeUnavailable, Assert.IsType<ApiErrorReply>(refused).Code);
        await Ok<VmReply>(new DestroyVmRequest("doomed-1"));
        var again = await Ok<VmReply>(new CreateVmRequest(new VmSpecification("doomed-1", 1, 16UL << 20, "hello")));
        Assert.Contains(again.Vm.Node, new[] { "n1", "n2" });
        var cli = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "list"));
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains("Lost", cli.Stdout);
    }
}
