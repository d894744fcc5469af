using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>A cluster of its own whose client does not depend on n1, the node this test kills.</summary>
public sealed class DirectoryLossCluster : LocalCluster
{
    /// <inheritdoc />
    public override string StableAfter => "2s";

    /// <inheritdoc />
    public override string HeartbeatPause => "3s";

    /// <inheritdoc />
    public override int[] ClientContacts => [1, 2];
}

/// <summary>
/// kill -9 of the node that hosts the VM directory singleton: the directory moves, its copy on the other
/// nodes brings back the subscriptions, and the dead node's VMs are reported Lost.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DirectoryLossTests(DirectoryLossCluster cluster, ITestOutputHelper output) : IClassFixture<DirectoryLossCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T ok ? ok : throw new Xunit.Sdk.XunitException($"{request.GetType().Name} answered {reply}");
    }

    [Fact]
    public async Task Vms_on_the_directory_node_become_lost_after_the_directory_moves()
    {
        var before = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        Assert.EndsWith($":{cluster.Ports[0]}", before.PlacementNode);
        foreach (var (name, node) in new[] { ("with-directory-1", "n1"), ("with-directory-2", "n1"), ("elsewhere", "n2") })
            await Ok<VmReply>(new CreateVmRequest(new VmSpecification(name, 1, 16UL << 20, "hello", Node: node)));
        var lost = new HashSet<string>();
        var bothLost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = cluster.Client.Subscribe(m =>
        {
            if (m is not VmEventNotice { Status: VmStatus.Lost } n) return;
            lock (lost)
            {
                lost.Add(n.Vm);
                if (lost.Count == 2) bothLost.TrySetResult();
            }
        });
        await Ok<SubscribedReply>(new SubscribeVmEventsRequest(null, subscriber));
        // The directory copies its state to every node shortly after a change; wait until all hold this one.
        await Eventually.HoldsAsync(async () =>
        {
            var s = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
            var behind = s.Nodes.Where(n => n.DirectoryCopyAt is null || n.DirectoryCopyAt < s.DirectoryChangedAt).Select(n => n.Name).ToList();
            return behind.Count == 0 ? null : $"copies behind on {string.Join(", ", behind)}";
        }, Wait);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        cluster.Nodes[0].KillHard();
        await bothLost.Task.WaitAsync(Wait);
        output.WriteLine($"kill -9 of the directory's node -> its VMs reported Lost by the new directory after {clock.Elapsed.TotalSeconds:0.0} s");
        lock (lost) Assert.Equal(["with-directory-1", "with-directory-2"], lost.Order());

        var after = await Ok<ClusterStatusReply>(new ClusterStatusRequest());
        Assert.DoesNotContain($":{cluster.Ports[0]}", after.PlacementNode);
        var list = (await Ok<VmListReply>(new ListVmsRequest())).Vms.ToDictionary(v => v.Name);
        Assert.Equal(VmStatus.Lost, list["with-directory-1"].Status);
        Assert.Equal(VmStatus.Lost, list["with-directory-2"].Status);
        Assert.Equal(VmStatus.Created, list["elsewhere"].Status);
        var placed = await Ok<VmReply>(new CreateVmRequest(new VmSpecification("after-move", 1, 16UL << 20, "hello")));
        Assert.Contains(placed.Vm.Node, new[] { "n2", "n3" });
        Assert.Equal(VmStatus.Running, (await Ok<VmReply>(new StartVmRequest("elsewhere"))).Vm.Status);

        // A graceful stop (SIGTERM) is not a loss: the node destroys its VMs, leaves, exits 0, and its VMs
        // disappear from the list instead of turning Lost.
        await Ok<VmReply>(new CreateVmRequest(new VmSpecification("leaving", 1, 16UL << 20, "spin", Node: "n3")));
        await Ok<VmReply>(new StartVmRequest("leaving"));
        cluster.Nodes[2].Terminate();
        Assert.Equal(0, await cluster.Nodes[2].WaitForExitAsync(Wait));
        Assert.Matches(@"Destroyed [1-9][0-9]* VM\(s\)", cluster.Nodes[2].Output);
        var listed = await ActorvisorProcess.RunAsync(cluster.Cli(1, "vm", "list", "--json"));
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.DoesNotContain("\"leaving\"", listed.Stdout);
        Assert.Contains("\"elsewhere\"", listed.Stdout);
    }
}
