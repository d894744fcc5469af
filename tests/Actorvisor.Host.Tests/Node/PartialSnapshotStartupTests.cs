using Actorvisor.Hardware.Snapshots;
using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// A node that starts removes from its snapshot directories what snapshot writes cut short left (a managed save under
/// its temporary name after a kill -9 mid-save) and logs each one; it leaves complete snapshots, other entries and a
/// partial directory another process is still writing (it holds it locked, as SnapshotWriter does).
/// </summary>
public sealed class PartialSnapshotStartupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-partial-start-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Snapshots => Path.Combine(_dir, "snapshots");

    private string MakeDirectory(string name, params string[] files)
    {
        var path = Directory.CreateDirectory(Path.Combine(Snapshots, name)).FullName;
        foreach (var f in files) File.WriteAllBytes(Path.Combine(path, f), new byte[4096]);
        return path;
    }

    [Fact]
    public async Task A_node_removes_abandoned_partial_snapshots_at_start_names_them_and_keeps_the_rest()
    {
        // What a node killed between the memory and the manifest of a managed save leaves, and an older one with nothing in it.
        var abandoned = MakeDirectory("managed-save.web.20261207T101500000Z" + SnapshotFormat.PartialSuffix + "0badf00d", "vcpu-0.state", "platform.state", "memory-0.bin");
        var empty = MakeDirectory("nightly" + SnapshotFormat.PartialSuffix + "12ab34cd");
        var complete = MakeDirectory("nightly", SnapshotFormat.ManifestFile, "memory-0.bin");
        var notPartial = MakeDirectory("notes.partial-draft", "readme");
        var writing = MakeDirectory("other-node-writing" + SnapshotFormat.PartialSuffix + "feedbeef", "vcpu-0.state");
        using var held = PartialSnapshotDirectories.Hold(writing);

        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        await using var node = ActorvisorProcess.Start("sweep", ["node", "--stop-on-stdin-eof", "--name", "sweep", "--port", port.ToString(),
            "--data-dir", Path.Combine(_dir, "data"), "--snapshot-dir", Snapshots, "--memory", "64M"]);
        await node.WaitForLineAsync("Node sweep is Up in cluster", TimeSpan.FromSeconds(60));
        node.CloseInput();
        Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        Assert.False(Directory.Exists(abandoned), node.Output);
        Assert.False(Directory.Exists(empty), node.Output);
        Assert.Contains($"Removed incomplete snapshot {abandoned}", node.Output);
        Assert.Contains($"Removed incomplete snapshot {empty}", node.Output);
        Assert.True(File.Exists(Path.Combine(complete, SnapshotFormat.ManifestFile)));
        Assert.True(File.Exists(Path.Combine(notPartial, "readme")));
        Assert.True(File.Exists(Path.Combine(writing, "vcpu-0.state")));
        Assert.Contains($"Left partial snapshot {writing}: another process is writing it", node.Output);
        Assert.DoesNotContain($"Removed incomplete snapshot {writing}", node.Output);
    }
}
