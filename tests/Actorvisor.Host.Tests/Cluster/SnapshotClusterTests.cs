using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Two software-accelerator nodes sharing one snapshot directory (shared storage between hosts).</summary>
public sealed class SnapshotCluster : LocalCluster
{
    /// <inheritdoc />
    public override int NodeCount => 2;

    /// <summary>The snapshot directory both nodes use.</summary>
    public string Snapshots => Path.Combine(Root, "snapshots");

    /// <inheritdoc />
    protected override IEnumerable<string> NodeArgs(int index)
    {
        Directory.CreateDirectory(Snapshots);
        return [.. base.NodeArgs(index), "--snapshot-dir", Snapshots, "--accelerator", "software"];
    }
}

/// <summary>Snapshot on one node of a loopback cluster, restore on the other, through the API.</summary>
public sealed class SnapshotClusterTests(SnapshotCluster cluster) : IClassFixture<SnapshotCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private async Task<T> Ok<T>(ApiRequest request) where T : IApiReply
    {
        var reply = await cluster.Client.RequestAsync(request);
        return reply is T t ? t : throw new Xunit.Sdk.XunitException($"{request} was answered with {reply}");
    }

    [Fact]
    public async Task A_vm_snapshotted_on_one_node_is_restored_on_the_other_and_runs_its_guest()
    {
        await Ok<VmReply>(new CreateVmRequest(new ApiVmSpec("snap-src", 1, 16UL << 20, "counter", Node: "n1")));
        try
        {
            var snapshot = await Ok<SnapshotReply>(new SnapshotVmRequest("snap-src", "counter-built"));
            Assert.Equal(("n1", 16UL << 20), (snapshot.Node, snapshot.MemoryBytes));
            Assert.Equal(Path.Combine(cluster.Snapshots, "counter-built"), snapshot.Directory);
            Assert.True(snapshot.BytesOnDisk < snapshot.MemoryBytes / 4, $"{snapshot.BytesOnDisk} bytes on disk");

            var restored = await Ok<VmReply>(new RestoreVmRequest("snap-dst", "counter-built", "eager", "n2"));
            Assert.Equal(("n2", VmStatus.Created, 1, 16UL << 20), (restored.Vm.Node, restored.Vm.Status, restored.Vm.Vcpus, restored.Vm.MemoryBytes));

            var text = new System.Text.StringBuilder();
            var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var subscriber = cluster.Client.Subscribe(m =>
            {
                if (m is ConsoleOutput o) lock (text) text.Append(System.Text.Encoding.Latin1.GetString(o.Bytes));
                if (m is StreamEnded e) ended.TrySetResult(e.Reason);
            });
            await Ok<SubscribedReply>(new SubscribeConsoleRequest("snap-dst", subscriber));
            await Ok<VmReply>(new StartVmRequest("snap-dst"));
            Assert.Contains("exited with result code 0", await ended.Task.WaitAsync(Wait));
            lock (text) Assert.Equal(GuestLibrary.Counter(16).ExpectedConsole, text.ToString());

            // The name is taken now; a snapshot that is not there is refused naming the field.
            var taken = await cluster.Client.RequestAsync(new SnapshotVmRequest("snap-src", "counter-built"));
            Assert.Equal((ApiErrorCode.InvalidRequest, "to"), (((ApiErrorReply)taken).Code, ((ApiErrorReply)taken).Field));
            var missing = await cluster.Client.RequestAsync(new RestoreVmRequest("snap-none", "no-such-snapshot", "lazy", "n2"));
            Assert.Equal((ApiErrorCode.InvalidRequest, "from"), (((ApiErrorReply)missing).Code, ((ApiErrorReply)missing).Field));
            // A CPU limit above the snapshot's one vCPU is refused by the node that holds it, naming the field.
            var tooMuch = await cluster.Client.RequestAsync(new RestoreVmRequest("snap-cpu", "counter-built", "lazy", "n2", CpuLimit: 2));
            Assert.Equal((ApiErrorCode.InvalidRequest, "cpuLimit"), (((ApiErrorReply)tooMuch).Code, ((ApiErrorReply)tooMuch).Field));
            Assert.Contains("1 vCPU", ((ApiErrorReply)tooMuch).Message);
        }
        finally
        {
            await cluster.Client.RequestAsync(new DestroyVmRequest("snap-src"));
            await cluster.Client.RequestAsync(new DestroyVmRequest("snap-dst"));
        }
    }
}
