using System.Text.Json.Nodes;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;
using Actorvisor.Hardware.Soft;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;
using Actorvisor.Host.Node;
using Actorvisor.Host.Node.State;
using Akka.Actor;
using Akka.TestKit.Xunit2;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// A node restores a snapshot's disks only from its image directories (Node:ImageDirectories), as it takes a created VM's
/// disks: a snapshot's manifest names each disk image by an absolute host path, and a manifest is a file anyone who can
/// write the snapshot directory can edit. The agent's restore path (what `vm restore` and a cluster scenario's restore step
/// reach) refuses naming the disk and the setting; a managed save with such a disk is not restored at start.
/// </summary>
public sealed class SnapshotDiskConfinementTests : TestKit, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _root = Directory.CreateTempSubdirectory("actorvisor-snap-confine-").FullName;
    private readonly SoftAccelerator _accelerator = new();

    private string Images => Path.Combine(_root, "images");
    private string Outside => Path.Combine(_root, "outside");
    private string Snapshots => Path.Combine(_root, "snapshots");

    // The agent's state writer runs on a dispatcher of its own, which the node's configuration declares.
    public SnapshotDiskConfinementTests() : base(NodeStateActor.DispatcherHocon)
    {
        Directory.CreateDirectory(Images);
        Directory.CreateDirectory(Outside);
        Directory.CreateDirectory(Snapshots);
    }

    void IDisposable.Dispose()
    {
        base.Dispose();
        _accelerator.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    // A snapshot NAME of a built (never run) machine with one read-write disk at diskPath.
    private void SnapshotWithDisk(string name, string diskPath)
    {
        File.WriteAllBytes(diskPath, new byte[64 * 1024]);
        var spec = new MachineSpec { Image = GuestLibrary.Hello(), MemoryBytes = 16UL << 20, Disks = [new VirtioDiskSpec { Path = diskPath }] };
        using var parts = MachineParts.Build(_accelerator, spec, new CapturingConsoleSink());
        new SnapshotWriter().Write(Path.Combine(Snapshots, name), SnapshotContent.Of(parts, "disk-vm"));
    }

    private IActorRef Agent(IReadOnlyList<string> imageDirectories, NodeStateStore? state = null) =>
        Sys.ActorOf(HypervisorAgent.Props(new NodeInfo("n1", "akka.tcp://test@127.0.0.1:1", "software", _accelerator.Description, 4, 256UL << 20),
            _accelerator, new VmImageResolver(imageDirectories, "n1"), CreateTestProbe().Ref, state: state, stored: state?.Load(),
            snapshots: new VmSnapshotDirectories([Snapshots], "n1")));

    private static CreateOnNode Restore(string vm, string snapshot) =>
        new(new ApiVmSpec(vm, 1, 16UL << 20, "hello", RestoreFrom: snapshot, RestoreMode: "eager"), (int)Wait.TotalMilliseconds);

    [Fact]
    public void A_snapshot_whose_disk_is_outside_the_image_directories_is_refused_naming_the_disk_and_the_setting()
    {
        var secret = Path.Combine(Outside, "secret.img");
        SnapshotWithDisk("outside-disk", secret);

        var refused = ExpectAnswer(Agent([Images]), Restore("restored", "outside-disk"));
        Assert.Null(refused.Vm);
        Assert.Equal((ApiErrorCode.InvalidRequest, "from"), (refused.Error!.Code, refused.Error.Field));
        Assert.Contains("snapshot 'outside-disk' is refused: disk vda's image", refused.Error.Message);
        Assert.Contains($"'{secret}' is outside node n1's image directories", refused.Error.Message);
        Assert.Contains("Node:ImageDirectories", refused.Error.Message);

        // The same snapshot on a node whose image directories hold the disk is restored: the refusal was the confinement.
        var restored = ExpectAnswer(Agent([Images, Outside]), Restore("restored", "outside-disk"));
        Assert.Null(restored.Error);
        Assert.Equal("restored", restored.Vm!.Name);
    }

    [Fact]
    public void A_manifest_edited_to_reach_a_file_through_a_symbolic_link_out_of_the_image_directories_is_refused()
    {
        SnapshotWithDisk("edited", Path.Combine(Images, "disk.img"));
        File.WriteAllBytes(Path.Combine(Outside, "secret.img"), new byte[64 * 1024]);
        File.CreateSymbolicLink(Path.Combine(Images, "link.img"), Path.Combine(Outside, "secret.img"));
        var manifestPath = Path.Combine(Snapshots, "edited", SnapshotFormat.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var disk = manifest["disks"]![0]!;
        Assert.Equal(Path.Combine(Images, "disk.img"), (string?)disk["path"]);
        disk["path"] = Path.Combine(Images, "link.img");
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        var refused = ExpectAnswer(Agent([Images]), Restore("restored", "edited"));
        Assert.Null(refused.Vm);
        Assert.Equal("from", refused.Error!.Field);
        Assert.Contains($"disk vda's image '{Path.Combine(Images, "link.img")}' cannot be opened on node n1", refused.Error.Message);
    }

    [Fact]
    public void A_managed_save_whose_disk_is_outside_the_image_directories_is_not_restored_at_start_and_the_log_says_why()
    {
        SnapshotWithDisk("managed-save.saved.20261207T000000000Z", Path.Combine(Outside, "saved.img"));
        using var state = NodeStateStore.Open(Path.Combine(_root, NodeStateStore.FileName));
        state.Define(new ApiVmSpec("saved", 1, 16UL << 20, "hello", SnapshotOnStop: true));
        state.SetIntent("saved", VmIntent.Stopped);
        state.SetManagedSave("saved", "managed-save.saved.20261207T000000000Z");

        EventFilter.Error(contains: "is outside node n1's image directories").ExpectOne(Wait, () => Agent([Images], state));
    }

    private CreateOnNodeResult ExpectAnswer(IActorRef agent, CreateOnNode request)
    {
        agent.Tell(request);
        return ExpectMsg<CreateOnNodeResult>(Wait);
    }
}
