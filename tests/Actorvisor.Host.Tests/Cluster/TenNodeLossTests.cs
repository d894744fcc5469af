using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// Ten node processes, the scale the operations issue asks for: a majority (7) survives three losses at once. A short
/// failure window, as <see cref="NodeLossCluster"/>, so the losses show quickly; more time to form, since ten
/// runtimes start on the same cores.
/// </summary>
public sealed class TenNodeCluster : LocalCluster
{
    /// <inheritdoc />
    public override int NodeCount => 10;

    /// <inheritdoc />
    public override string StableAfter => "3s";

    /// <inheritdoc />
    public override string HeartbeatPause => "4s";

    /// <inheritdoc />
    public override TimeSpan FormTimeout => TimeSpan.FromMinutes(5);
}

/// <summary>
/// kill -9 of three of ten nodes at once, with a subscriber to every VM's events: each VM of the killed nodes is
/// reported Lost exactly once, no notice of any VM is missing or repeated, the survivors' VMs are untouched and
/// run to their end with every notice delivered, and the cluster keeps placing new VMs on the survivors.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TenNodeLossTests(TenNodeCluster cluster, ITestOutputHelper output) : IClassFixture<TenNodeCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(180);
    private const int VmsPerNode = 2;

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    [Fact]
    public async Task Three_nodes_killed_at_once_lose_only_their_vms_and_no_event_is_lost()
    {
        var notices = new Dictionary<string, List<VmEventNotice>>(StringComparer.Ordinal);
        var awaited = new List<(Func<bool> Done, TaskCompletionSource Reached)>();
        var all = cluster.Client.Subscribe(m =>
        {
            if (m is not VmEventNotice n) return;
            lock (notices)
            {
                if (!notices.TryGetValue(n.Vm, out var list)) notices[n.Vm] = list = new();
                list.Add(n);
                foreach (var w in awaited.Where(w => w.Done())) w.Reached.TrySetResult();
            }
        });
        Task Until(Func<bool> done)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (notices)
            {
                if (done()) reached.TrySetResult();
                else awaited.Add((done, reached));
            }
            return reached.Task.WaitAsync(Wait);
        }
        List<VmStatus> StatusesOf(string vm)
        {
            lock (notices) return notices.TryGetValue(vm, out var list) ? list.Select(n => n.Status).ToList() : [];
        }
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, all));

        var names = Enumerable.Range(1, cluster.NodeCount)
            .SelectMany(node => Enumerable.Range(0, VmsPerNode).Select(i => (Vm: $"n{node}-vm{i}", Node: $"n{node}"))).ToList();
        foreach (var (vm, node) in names)
            Assert.Equal(node, (await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec(vm, 1, 16UL << 20, "hello", Node: node)))).Vm.Node);
        await Until(() => names.All(n => StatusesOf(n.Vm).Count > 0));
        Assert.All(names, n => Assert.Equal([VmStatus.Created], StatusesOf(n.Vm)));

        // Three nodes that neither host the directory nor are the client's contacts (n1, n2), killed at once.
        var status = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        var victims = Enumerable.Range(2, cluster.NodeCount - 2)
            .Where(i => !status.PlacementNode.EndsWith($":{cluster.Ports[i]}", StringComparison.Ordinal)).TakeLast(3).ToArray();
        var victimNames = victims.Select(i => $"n{i + 1}").ToHashSet(StringComparer.Ordinal);
        var lostVms = names.Where(n => victimNames.Contains(n.Node)).Select(n => n.Vm).ToList();
        var survivingVms = names.Where(n => !victimNames.Contains(n.Node)).Select(n => n.Vm).ToList();
        output.WriteLine($"directory on {status.PlacementNode}; kill -9 of {string.Join(", ", victimNames.Order())}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var i in victims) cluster.Nodes[i].KillHard();
        foreach (var i in victims) await cluster.Nodes[i].WaitForExitAsync(Wait);

        // Every VM of the killed nodes is reported Lost, once, naming its node.
        await Until(() => lostVms.All(vm => StatusesOf(vm).Contains(VmStatus.Lost)));
        output.WriteLine($"all {lostVms.Count} VMs of the killed nodes reported Lost after {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var vm in lostVms)
        {
            Assert.Equal([VmStatus.Created, VmStatus.Lost], StatusesOf(vm));
            lock (notices) Assert.Contains($"node {vm.Split('-')[0]} was downed", notices[vm][^1].Detail);
        }

        // The survivors' VMs are untouched, and each runs to its end with every notice delivered.
        var listed = (await Ok<VmListReply>(new ListVmsRequest())).Vms.ToDictionary(v => v.Name);
        Assert.All(survivingVms, vm => Assert.Equal(VmStatus.Created, listed[vm].Status));
        Assert.All(lostVms, vm => Assert.Equal(VmStatus.Lost, listed[vm].Status));
        foreach (var vm in survivingVms) await Ok<VmReply>(new StartVmRequest(vm));
        await Until(() => survivingVms.All(vm => StatusesOf(vm) is [.., VmStatus.Stopped]));
        foreach (var vm in survivingVms)
        {
            var seen = StatusesOf(vm);
            Assert.Equal(VmStatus.Created, seen[0]);
            Assert.Single(seen, VmStatus.Running);
            Assert.Single(seen, VmStatus.Stopped);
            Assert.DoesNotContain(VmStatus.Lost, seen);
        }

        // The cluster keeps placing: new VMs go to the survivors, more than one of them.
        var placed = new List<string>();
        for (int i = 0; i < cluster.NodeCount; i++)
            placed.Add((await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec($"after-{i}", 1, 16UL << 20, "hello")))).Vm.Node);
        output.WriteLine($"placed after the loss on: {string.Join(", ", placed)}");
        Assert.DoesNotContain(placed, victimNames.Contains);
        Assert.True(placed.Distinct().Count() > 1, $"every new VM went to {placed[0]}");
        await Until(() => Enumerable.Range(0, cluster.NodeCount).All(i => StatusesOf($"after-{i}").Count > 0));
        lock (notices) Assert.Equal(names.Count + cluster.NodeCount, notices.Count);
    }
}
