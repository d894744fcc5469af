using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Vfio;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Native;
using NativeSys = Actorvisor.Hardware.Native.Sys;
using Actorvisor.Hardware.Tests.Vfio;
using Tmds.Linux;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vfio;

/// <summary>VFIO files listed in the spec are attached at creation; every file is released when the VM is destroyed.</summary>
public class VfioTeardownTests(ITestOutputHelper output) : VfioVmTestKit(output)
{
    [Fact]
    public void Destroying_the_vm_releases_every_file_after_the_vcpus_stopped()
    {
        var a = StandIns.CreateGroup("1");
        var b = StandIns.CreateGroup("2", coherent: false);
        var c = StandIns.CreateDevice("vfio3");
        var node = StartNode();
        var vm = Create(node, VfioSpec("released", a, b));
        Start(vm);
        using (var fd = NativeSys.Open(c, LibC.O_RDWR)) Ask<VfioFileAttached>(vm, AttachVfioFile.ByDescriptor(fd));
        var list = Ask<VfioFileList>(vm, ListVfioFiles.Instance);
        Assert.Equal([a, b, c], list.Files.Select(f => f.Name));
        Assert.True(list.NonCoherentDma);
        Assert.Equal([2, 2, 2], new[] { a, b, c }.Select(StandInVfioFiles.OpenDescriptors));

        node.Tell(new DestroyVm("released"));
        Assert.Equal(new VmOutcome.StoppedOnRequest(), ExpectMsg<VmDestroyed>(Long).Outcome);
        Assert.Equal([0, 0, 0], new[] { a, b, c }.Select(StandInVfioFiles.OpenDescriptors));

        // The release comes after the vCPUs stopped and the outstanding work was flushed, inside the release step.
        var order = EventsUntilEnd(vm).Select(e => e switch
        {
            VmTeardownStepped s => s.Step.ToString(),
            VmVfioFilesReleased r => $"released {string.Join(",", r.Files.Select(Path.GetFileName))}",
            VmDmaCoherencyChanged d => $"non-coherent {d.NonCoherentDma}",
            _ => null,
        }).Where(s => s is not null).ToList();
        Assert.Equal(
            ["StopAcceptingRequests", "StopVcpus", "FlushOutstandingWork", "released 1,2,vfio3", "non-coherent False", "ReleaseDevices",
             "RetireMemslots", "UnmapGuestMemory", "CloseFds"],
            order);
    }

    [Fact]
    public void A_vm_actor_stopped_abruptly_still_releases_its_files_in_its_own_teardown()
    {
        var a = StandIns.CreateGroup("50");
        var vm = Create(StartNode(), VfioSpec("abrupt", a));
        Start(vm);
        Assert.Equal(2, StandInVfioFiles.OpenDescriptors(a));

        // Stopping the actor skips the message-driven teardown; PostStop runs the steps synchronously.
        Watch(vm.Vm);
        Sys.Stop(vm.Vm);
        ExpectTerminated(vm.Vm, Long);
        Assert.Equal(0, StandInVfioFiles.OpenDescriptors(a));
    }

    [Fact]
    public void A_vm_created_with_vfio_files_starts_with_them_attached()
    {
        var a = StandIns.CreateGroup("30");
        var b = StandIns.CreateDevice("vfio31", coherent: false);
        var vm = Create(StartNode(), VfioSpec("boot-attached", a, b));
        var list = Ask<VfioFileList>(vm, ListVfioFiles.Instance);
        Assert.Equal([a, b], list.Files.Select(f => f.Name));
        Assert.True(list.NonCoherentDma);
        Start(vm);
        Ask<VfioFileDetached>(vm, new DetachVfioFile(b));
        Assert.False(vm.Events.FishForMessage<VmDmaCoherencyChanged>(_ => true, Long).NonCoherentDma);
    }

    [Fact]
    public void A_file_that_cannot_be_attached_fails_the_creation_with_a_typed_error_naming_it()
    {
        var good = StandIns.CreateGroup("40");
        var node = StartNode();

        node.Tell(new CreateVm(VfioSpec("bad-file", good, "/dev/null")));
        var failed = Assert.IsType<VmRegistryError.CreateFailed>(ExpectMsg<NodeRequestFailed>(Long).Error);
        var error = Assert.IsType<VfioError.NotVfioFile>(Assert.IsType<VmError.VfioRefused>(failed.Cause).Error);
        Assert.Equal("/dev/null", error.File);
        Assert.Contains("'/dev/null' is not a VFIO group or device file", failed.Message);
        // What was attached before the bad file is released with the rest of the half-built VM.
        Assert.Equal(0, StandInVfioFiles.OpenDescriptors(good));

        node.Tell(new CreateVm(VfioSpec("missing-file", "/dev/vfio/4242")));
        var missing = Assert.IsType<VmRegistryError.CreateFailed>(ExpectMsg<NodeRequestFailed>(Long).Error);
        Assert.Equal(new VfioError.CannotOpen("/dev/vfio/4242", "ENOENT", Errnos.Describe(Errnos.ENOENT)),
            Assert.IsType<VmError.VfioRefused>(missing.Cause).Error);

        node.Tell(ListVms.Instance);
        Assert.Empty(ExpectMsg<VmList>().Vms);
        // The names are free again.
        Create(node, VfioSpec("bad-file", good));
    }

    [Fact]
    public void A_spec_with_relative_or_repeated_vfio_paths_is_invalid()
    {
        var node = StartNode();
        node.Tell(new CreateVm(VfioSpec("relative", "vfio/1")));
        Assert.Equal("invalid VM spec: vfio[0]: 'vfio/1' is not an absolute path (e.g. /dev/vfio/12)",
            Assert.IsType<VmRegistryError.InvalidSpec>(ExpectMsg<NodeRequestFailed>().Error).Message);
        Assert.Equal("vfio[2]: '/dev/vfio/1' is listed twice", VfioSpec("twice", "/dev/vfio/1", "/dev/vfio/2", "/dev/vfio/1").Validate());
        Assert.Null(VfioSpec("fine", "/dev/vfio/1", "/dev/vfio/devices/vfio0").Validate());
    }
}
