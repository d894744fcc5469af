using System.Diagnostics;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// A cluster of its own, because its test kills nodes: four, so that a majority survives two losses; a short
/// failure window so losses show quickly; the client starts from n2 and n3, which stay up longest.
/// </summary>
public sealed class NodeLossCluster : LocalCluster
{
    /// <inheritdoc />
    public override int NodeCount => 4;

    /// <inheritdoc />
    public override string StableAfter => "3s";

    /// <inheritdoc />
    public override string HeartbeatPause => "4s";

    /// <inheritdoc />
    public override int[] ClientContacts => [1, 2];
}

/// <summary>
/// Node loss, in the order a cluster can survive it: a hang and kill -9 of a plain hypervisor (n4), then kill -9 of the node
/// hosting the VM directory (n1), then a graceful stop of the directory's next node. VMs of a killed node become Lost within the
/// split-brain resolver's window; the others keep running and answering.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class NodeLossTests(NodeLossCluster cluster, ITestOutputHelper output) : IClassFixture<NodeLossCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    private async Task<Dictionary<string, VmInfo>> List() => (await Ok<VmListReply>(new ListVmsRequest())).Vms.ToDictionary(v => v.Name);

    [Fact]
    public async Task Killed_nodes_lose_their_vms_the_directory_moves_and_a_stopped_node_leaves_cleanly()
    {
        foreach (var (name, node) in new[] { ("on-n1-a", "n1"), ("on-n1-b", "n1"), ("on-n2", "n2"), ("on-n3", "n3"), ("on-n3-b", "n3"), ("on-n4-a", "n4"), ("on-n4-b", "n4") })
            await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec(name, 1, 16UL << 20, "hello", Node: node)));
        var lost = new List<string>();
        var lostSignals = new Dictionary<int, TaskCompletionSource>
        {
            [2] = new(TaskCreationOptions.RunContinuationsAsynchronously),
            [4] = new(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        var all = cluster.Client.Subscribe(m =>
        {
            if (m is not VmEventNotice { Status: VmStatus.Lost } n) return;
            lock (lost)
            {
                lost.Add(n.Vm);
                if (lostSignals.TryGetValue(lost.Count, out var signal)) signal.TrySetResult();
            }
        });
        var perVm = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var one = cluster.Client.Subscribe(m => { if (m is VmEventNotice { Status: VmStatus.Lost } n) perVm.TrySetResult(n); });
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, all));
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest("on-n4-a", one));

        // A second client that reaches the cluster through n4 only, to show that losing the node a client is
        // connected to leaves none of its requests unanswered.
        // Its requests time out only after 300 s, so a typed answer (not ApiUnavailableException) is itself the
        // proof that they were answered when the client gave up on n4, not when their timeout ran out.
        await using var viaN4 = ApiClient.Connect(new ApiClientOptions("actorvisor", [cluster.Contact(3)], cluster.Token, TimeSpan.FromSeconds(300)));
        Assert.IsType<ClusterStatusReply>(await viaN4.RequestAsync(new ClusterStatusRequest()));
        Assert.IsType<VmListReply>(await viaN4.RequestAsync(new ListVmsRequest()));
        // An event subscription held by n4's own gateway, to a VM of n4: when n4 is lost, neither can say so; the
        // directory, which the gateway asked to follow the VM's loss, tells the subscriber.
        var viaN4Lost = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var viaN4Ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var throughN4 = viaN4.Subscribe(m =>
        {
            if (m is VmEventNotice { Status: VmStatus.Lost } n) viaN4Lost.TrySetResult(n);
            else if (m is StreamEnded e) viaN4Ended.TrySetResult(e.Reason);
        });
        Assert.IsType<SubscribedReply>(await viaN4.RequestAsync(new SubscribeVmEventsRequest("on-n4-b", throughN4)));

        // 1. n4 hangs (SIGSTOP: no answers, sockets still open), then is killed -9. The requests open on it are
        // answered once the client gives up on n4 (death watch: 8 s of silence, a few more to be sure), not after
        // their 300 s timeout: the list through another node, the start with a typed error. Its two VMs are Lost
        // within the window, to subscribers and in the list.
        var clock = Stopwatch.StartNew();
        cluster.Nodes[3].Freeze();
        var listing = viaN4.RequestAsync(new ListVmsRequest());
        var started = viaN4.RequestAsync(new StartVmRequest("on-n4-b"));
        // A request for a VM of the hung node, through a node that is up: the deadline passes inside the cluster
        // (n4 cannot answer while stopped), so the gateway that waited for n4 answers with its typed Timeout a
        // margin before the deadline, instead of the client's own ApiUnavailableException at the deadline.
        var deadline = TimeSpan.FromSeconds(15);
        var hungClock = Stopwatch.StartNew();
        var describeHung = cluster.Client.RequestAsync(new DescribeVmRequest("on-n4-a"), deadline);
        // A list gathers the VMs from their nodes within the deadline: n4 cannot answer, so it is named, and the
        // others' VMs are listed.
        var listedDuringHang = cluster.Client.RequestAsync(new ListVmsRequest(), deadline);
        Assert.IsType<VmListReply>(await listing);
        var refused = Assert.IsType<ApiErrorReply>(await started);
        var answeredIn = clock.Elapsed;
        output.WriteLine($"n4 hung -> requests open on it answered after {answeredIn.TotalSeconds:0.0} s: {refused}");
        Assert.Equal(ApiErrorCode.NodeUnavailable, refused.Code);
        Assert.Contains("may or may not have taken effect", refused.Message);
        // The 8 s death watch and a little: 12.9 s measured beside a two-core CPU hog; the bound only has to
        // tell that apart from the 300 s timeout.
        Assert.True(answeredIn < TimeSpan.FromSeconds(120), $"answered after {answeredIn}");
        var timedOut = Assert.IsType<ApiErrorReply>(await describeHung);
        output.WriteLine($"n4 hung -> a describe of its VM with a {deadline.TotalSeconds:0} s deadline answered after {hungClock.Elapsed.TotalSeconds:0.0} s: {timedOut}");
        Assert.Equal(ApiErrorCode.Timeout, timedOut.Code);
        Assert.Contains("on-n4-a", timedOut.Message);
        var partial = Assert.IsType<VmListReply>(await listedDuringHang);
        output.WriteLine($"n4 hung -> a list with a {deadline.TotalSeconds:0} s deadline: {partial.Vms.Count} VM(s), no answer from {string.Join(", ", partial.UnansweredNodes ?? [])}");
        Assert.Equal(["n4"], partial.UnansweredNodes!);
        Assert.Contains(partial.Vms, v => v.Name == "on-n2" && v.Status == VmStatus.Created);
        Assert.DoesNotContain(partial.Vms, v => v.Node == "n4");
        cluster.Nodes[3].KillHard();
        await cluster.Nodes[3].WaitForExitAsync(Wait);
        Assert.IsType<VmListReply>(await viaN4.RequestAsync(new ListVmsRequest()));
        var notice = await perVm.Task.WaitAsync(Wait);
        await lostSignals[2].Task.WaitAsync(Wait);
        var firstLoss = clock.Elapsed;
        output.WriteLine($"n4 hung, then kill -9 -> its VMs reported Lost after {firstLoss.TotalSeconds:0.0} s");
        Assert.Equal(("on-n4-a", "n4"), (notice.Vm, notice.Node));
        Assert.Contains("node n4 was downed", notice.Detail);
        var toldThroughN4 = await viaN4Lost.Task.WaitAsync(Wait);
        Assert.Equal(("on-n4-b", "n4"), (toldThroughN4.Vm, toldThroughN4.Node));
        Assert.Contains("node n4 was downed", toldThroughN4.Detail);
        Assert.Contains("node n4 was downed", await viaN4Ended.Task.WaitAsync(Wait));
        lock (lost) Assert.Equal(["on-n4-a", "on-n4-b"], lost.Order());
        // The hang above, then heartbeat pause 4 s + stable-after 3 s + gossip rounds: 13.2 s measured beside a
        // two-core CPU hog. The bound is there to catch a loss that is never declared in time, ten times what it
        // needs; the waits above end with the events.
        Assert.True(firstLoss < TimeSpan.FromSeconds(180), $"Lost after {firstLoss}");
        var vms = await List();
        Assert.Equal(VmStatus.Lost, vms["on-n4-b"].Status);
        Assert.All(new[] { "on-n1-a", "on-n2", "on-n3" }, n => Assert.Equal(VmStatus.Created, vms[n].Status));

        // The survivors run VMs and answer; a Lost VM refuses operations, and destroying it frees its name.
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var console = cluster.Client.Subscribe(m => { if (m is StreamEnded e) ended.TrySetResult(e.Reason); });
        await Ok<SubscribedReply>(new SubscribeConsoleRequest("on-n2", console));
        await Ok<VmReply>(new StartVmRequest("on-n2"));
        Assert.Contains("exited with result code 0", await ended.Task.WaitAsync(Wait));
        Assert.Equal(ApiErrorCode.NodeUnavailable, Assert.IsType<ApiErrorReply>(await cluster.Client.RequestAsync(new StartVmRequest("on-n4-a"))).Code);
        await Ok<VmReply>(new DestroyVmRequest("on-n4-a"));
        Assert.Contains((await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("on-n4-a", 1, 16UL << 20, "hello")))).Vm.Node, new[] { "n1", "n2", "n3" });
        var cli = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "list"));
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains("Lost", cli.Stdout);

        // 2. kill -9 of n1, which hosts the directory. Its copy on the other nodes lets the next directory
        // report n1's VMs Lost to the same subscriber.
        var status = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        Assert.EndsWith($":{cluster.Ports[0]}", status.PlacementNode);
        await Eventually.HoldsAsync(async () =>
        {
            var s = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
            var behind = s.Nodes.Where(n => n.Status == "Up" && (n.DirectoryCopyAt is null || n.DirectoryCopyAt < s.DirectoryChangedAt)).Select(n => n.Name).ToList();
            return behind.Count == 0 ? null : $"directory copies behind on {string.Join(", ", behind)}";
        }, Wait);
        clock.Restart();
        cluster.Nodes[0].KillHard();
        await cluster.Nodes[0].WaitForExitAsync(Wait);
        // Requests for VMs of live nodes do not need the directory: through n2 or n3 they go straight to n3 and are
        // answered while the directory is moving (2 s is the product requirement; they took 0.0x s when measured).
        var moving = Stopwatch.StartNew();
        var described = await Ok<VmDescriptionReply>(new DescribeVmRequest("on-n3"));
        var describedIn = moving.Elapsed;
        moving.Restart();
        var startedOnN3 = await Ok<VmReply>(new StartVmRequest("on-n3-b"));
        var startedIn = moving.Elapsed;
        output.WriteLine($"kill -9 of n1 -> while the directory moves, a describe of a VM on n3 answered in {describedIn.TotalMilliseconds:0} ms, a start in {startedIn.TotalMilliseconds:0} ms");
        Assert.Equal(("n3", VmStatus.Created), (described.Vm.Node, described.Vm.Status));
        Assert.Equal("n3", startedOnN3.Vm.Node);
        Assert.True(describedIn < TimeSpan.FromSeconds(2), $"describe answered after {describedIn}");
        Assert.True(startedIn < TimeSpan.FromSeconds(2), $"start answered after {startedIn}");
        // A VM's events come from its node too: the subscription is answered, with the VM's current state, while
        // the directory is still moving.
        var currentState = new TaskCompletionSource<VmEventNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        var onN3 = cluster.Client.Subscribe(m => { if (m is VmEventNotice n) currentState.TrySetResult(n); });
        moving.Restart();
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest("on-n3", onN3));
        var state = await currentState.Task.WaitAsync(Wait);
        var subscribedIn = moving.Elapsed;
        output.WriteLine($"kill -9 of n1 -> while the directory moves, an event subscription to a VM on n3 answered in {subscribedIn.TotalMilliseconds:0} ms");
        Assert.Equal(("on-n3", "n3", VmStatus.Created, "current state"), (state.Vm, state.Node, state.Status, state.Detail));
        Assert.True(subscribedIn < TimeSpan.FromSeconds(2), $"event subscription answered after {subscribedIn}");
        // Until n1 is downed, the nodes' singleton proxies still send to the directory there: a request the
        // directory answers itself is answered anyway, with a typed error, well within the client's timeout.
        var duringMove = await cluster.Client.RequestAsync(new ClusterStatusRequest(), TimeSpan.FromSeconds(300));
        output.WriteLine($"kill -9 of n1 -> a status request answered after {clock.Elapsed.TotalSeconds:0.0} s: {duringMove.GetType().Name}");
        Assert.True(duringMove is ClusterStatusReply or ApiErrorReply { Code: ApiErrorCode.NodeUnavailable }, duringMove.ToString());
        // Answered in 10.2 s measured beside a two-core CPU hog; with a 300 s timeout a typed answer already shows
        // it was not timed out, and the bound (ten times that) only catches an answer from some other, late path.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"answered after {clock.Elapsed}");
        await lostSignals[4].Task.WaitAsync(Wait);
        output.WriteLine($"kill -9 of n1 (the directory's node) -> its VMs reported Lost by the moved directory after {clock.Elapsed.TotalSeconds:0.0} s");
        lock (lost) Assert.Equal(["on-n1-a", "on-n1-b"], lost.Skip(2).Order());
        // Right after the move a node's singleton proxy may still point at the old directory: ask until answered.
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                return await cluster.Client.RequestAsync(new ClusterStatusRequest(), TimeSpan.FromSeconds(2)) is ClusterStatusReply s
                    && !s.PlacementNode.EndsWith($":{cluster.Ports[0]}") ? null : "the directory has not moved";
            }
            catch (ApiUnavailableException e)
            {
                return e.Message;
            }
        }, Wait);
        vms = await List();
        Assert.Equal(VmStatus.Lost, vms["on-n1-b"].Status);
        Assert.Equal(VmStatus.Created, vms["on-n3"].Status);
        Assert.Contains((await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("after-move", 1, 16UL << 20, "hello")))).Vm.Node, new[] { "n2", "n3" });

        // 3. A graceful stop (SIGTERM) is not a loss, not even of the node that now hosts the directory: it
        // destroys its VMs, the directory hands over to the other node, the node exits 0, and its VMs disappear
        // from the list instead of turning Lost (the next directory starts from the last changes, not older ones).
        var placement = (await Ok<ClusterStatusReply>(new ClusterStatusRequest())).PlacementNode;
        int leaver = placement.EndsWith($":{cluster.Ports[1]}") ? 1 : 2, stayer = 3 - leaver;
        Assert.EndsWith($":{cluster.Ports[leaver]}", placement);
        var (leaverName, stayerName) = ($"n{leaver + 1}", $"n{stayer + 1}");
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("leaving", 1, 16UL << 20, "spin", Node: leaverName)));
        await Ok<VmReply>(new StartVmRequest("leaving"));
        cluster.Nodes[leaver].Terminate();
        Assert.Equal(0, await cluster.Nodes[leaver].WaitForExitAsync(Wait));
        Assert.Matches(@"Destroyed [1-9][0-9]* VM\(s\)", cluster.Nodes[leaver].Output);
        var listed = await ActorvisorProcess.RunAsync(cluster.Cli(stayer, "vm", "list", "--json"));
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.False(listed.Stdout.Contains("\"leaving\""), $"the stopped node's VM is still listed:\n{listed.Stdout}\n{leaverName}'s output:\n{cluster.Nodes[leaver].Output}");
        Assert.DoesNotContain($"\"on-{leaverName}\"", listed.Stdout);
        Assert.Contains($"\"on-{stayerName}\"", listed.Stdout);
        lock (lost) Assert.Equal(4, lost.Count);
    }
}
