using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vfio;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Native;
using NativeSys = Actorvisor.Hardware.Native.Sys;
using Actorvisor.Hardware.Tests.Vfio;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Vfio;

/// <summary>Attaching, detaching and listing VFIO files through the VmActor (its KvmVfioDeviceActor answers).</summary>
public class KvmVfioDeviceActorTests(ITestOutputHelper output) : VfioVmTestKit(output)
{
    [Fact]
    public void Files_attached_by_path_and_by_descriptor_are_listed_and_detached()
    {
        var group = StandIns.CreateGroup("12");
        var device = StandIns.CreateDevice("vfio0");
        var vm = Create(StartNode(), VfioSpec("attach"));
        Start(vm);

        var attached = Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(group));
        Assert.Equal(("attach", group, VfioFileKind.Group, false), (attached.VmName, attached.File.Name, attached.File.Kind, attached.NonCoherentDma));
        using (var fd = NativeSys.Open(device, LibC.O_RDWR))
        {
            var byFd = Ask<VfioFileAttached>(vm, AttachVfioFile.ByDescriptor(fd, "passthrough-nic"));
            Assert.Equal(VfioFileKind.Device, byFd.File.Kind);
        }
        // The caller's descriptor is closed; the VM holds the file (its own descriptor and the device's reference).
        Assert.Equal(2, StandInVfioFiles.OpenDescriptors(device));
        Assert.Equal([group, "passthrough-nic"], Ask<VfioFileList>(vm, ListVfioFiles.Instance).Files.Select(f => f.Name));

        Assert.Equal(new VfioFileDetached("attach", group, false), Ask<VfioFileDetached>(vm, new DetachVfioFile(group)));
        Assert.Equal(0, StandInVfioFiles.OpenDescriptors(group));
        Assert.Equal(new VfioFileDetached("attach", "passthrough-nic", false), Ask<VfioFileDetached>(vm, new DetachVfioFile("passthrough-nic")));
        Assert.Equal(0, StandInVfioFiles.OpenDescriptors(device));
        Assert.Empty(Ask<VfioFileList>(vm, ListVfioFiles.Instance).Files);
    }

    [Fact]
    public void The_same_file_twice_is_refused_however_it_is_named()
    {
        var group = StandIns.CreateGroup("3");
        var vm = Create(StartNode(), VfioSpec("twice"));
        Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(group));

        Assert.Equal(new VfioError.AlreadyAttached(group, group), RefusedWith(vm, AttachVfioFile.ByPath(group)));
        using (var again = NativeSys.Open(group, LibC.O_RDWR))
        {
            var error = RefusedWith(vm, AttachVfioFile.ByDescriptor(again, "group-3-again"));
            Assert.Equal(new VfioError.AlreadyAttached("group-3-again", group), error);
            Assert.Equal($"'group-3-again' is already attached to this VM as '{group}'", error.Message);
        }
        // The refused attempts left nothing open and changed nothing.
        Assert.Equal(2, StandInVfioFiles.OpenDescriptors(group));
        Assert.Single(Ask<VfioFileList>(vm, ListVfioFiles.Instance).Files);
    }

    [Fact]
    public void Detaching_a_file_that_is_not_attached_is_refused_naming_what_is()
    {
        var group = StandIns.CreateGroup("5");
        var vm = Create(StartNode(), VfioSpec("unknown", group));

        var error = Assert.IsType<VfioError.NotAttached>(RefusedWith(vm, new DetachVfioFile("/dev/vfio/99")));
        Assert.Equal($"'/dev/vfio/99' is not attached to this VM (attached: {group})", error.Message);
        Ask<VfioFileDetached>(vm, new DetachVfioFile(group));
        Assert.Equal($"'{group}' is not attached to this VM (attached: none)", RefusedWith(vm, new DetachVfioFile(group)).Message);
    }

    [Fact]
    public void Files_that_are_not_vfio_are_refused_by_the_real_classifier()
    {
        var vm = Create(StartNode(), VfioSpec("not-vfio"));

        var devNull = Assert.IsType<VfioError.NotVfioFile>(RefusedWith(vm, AttachVfioFile.ByPath("/dev/null")));
        Assert.Equal("/dev/null", devNull.File);
        Assert.StartsWith("'/dev/null' is not a VFIO group or device file: character device 1:3 (driver mem)", devNull.Message);

        var regular = Path.Combine(StandIns.Directory, "plain-file");
        File.WriteAllText(regular, "not a group");
        Assert.IsType<VfioError.NotVfioFile>(RefusedWith(vm, AttachVfioFile.ByPath(regular)));
        Assert.Equal(0, StandInVfioFiles.OpenDescriptors(regular));

        var missing = Assert.IsType<VfioError.CannotOpen>(RefusedWith(vm, AttachVfioFile.ByPath("/dev/vfio/4242")));
        Assert.Equal(("/dev/vfio/4242", "ENOENT"), (missing.Path, missing.ErrnoName));
        Assert.IsType<VfioError.InvalidPath>(RefusedWith(vm, AttachVfioFile.ByPath("dev/vfio/1")));
        Assert.Empty(Ask<VfioFileList>(vm, ListVfioFiles.Instance).Files);
    }

    [Fact]
    public void The_default_device_refuses_non_vfio_files_on_the_test_accelerator()
    {
        // No stand-ins: the VM's own KVM-VFIO device (the kernel's under ACTORVISOR_TEST_ACCEL=kvm).
        var vm = Create(StartNode(), Spec("default-device", TestGuests.Spin()));
        using var memfd = NativeSys.MemfdCreate("not-vfio");
        var error = Assert.IsType<VfioError.NotVfioFile>(RefusedWith(vm, AttachVfioFile.ByDescriptor(memfd)));
        Assert.Equal("memfd:not-vfio", error.File);
        Assert.Contains("regular file", error.Detail);
    }

    [Fact]
    public void Non_coherent_dma_is_recomputed_and_published_on_each_change()
    {
        var coherent = StandIns.CreateGroup("20", coherent: true);
        var nonCoherent = StandIns.CreateGroup("21", coherent: false);
        var other = StandIns.CreateGroup("22", coherent: true);
        var vm = Create(StartNode(), VfioSpec("coherency"));

        Assert.False(Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(coherent)).NonCoherentDma);
        var attached = Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(nonCoherent));
        Assert.True(attached.NonCoherentDma);
        Assert.False(attached.File.EnforcedCoherent);
        Assert.False(Ask<VfioFileDetached>(vm, new DetachVfioFile(nonCoherent)).NonCoherentDma);

        // An attached file's answer changes; the next change to the list, about another file, asks every file again.
        StandIns.SetCoherent(coherent, false);
        Assert.True(Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(other)).NonCoherentDma);
        var list = Ask<VfioFileList>(vm, ListVfioFiles.Instance);
        Assert.True(list.NonCoherentDma);
        Assert.Equal([false, true], list.Files.Select(f => f.EnforcedCoherent));
        Assert.False(Ask<VfioFileDetached>(vm, new DetachVfioFile(coherent)).NonCoherentDma);

        // Each flip was published once, in order (no event for changes that left the state as it was).
        var flips = Enumerable.Range(0, 4).Select(_ => vm.Events.FishForMessage<VmDmaCoherencyChanged>(_ => true, Long).NonCoherentDma).ToList();
        Assert.Equal([true, false, true, false], flips);
        // Event-driven "and nothing more": one more flip (to true) as a marker; an event published for a change
        // that left the state false would come before it, so the next event must be the marker's.
        Assert.True(Ask<VfioFileAttached>(vm, AttachVfioFile.ByPath(nonCoherent)).NonCoherentDma);
        Assert.True(vm.Events.FishForMessage<VmDmaCoherencyChanged>(_ => true, Long).NonCoherentDma);
    }
}
