using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;
using Xunit.Abstractions;

namespace Actorvisor.Kvm.Tests;

/// <summary>
/// A real VFIO group (QEMU's edu device bound to vfio-pci in the --vfio harness) attached to real KVM-VFIO devices:
/// the kernel's and the runtime's. A group can be open only once (vfio_group_fops_open: EBUSY), which makes the
/// kernel's own reference to an attached group observable.
/// </summary>
public sealed class VfioRealGroupTests(ITestOutputHelper output)
{
    private static string Group => VfioGroupFactAttribute.FirstGroup() ?? throw new InvalidOperationException("no VFIO group");

    [VfioGroupFact]
    public void The_classifier_and_the_coherency_probe_recognise_a_real_group()
    {
        using var group = Sys.Open(Group, LibC.O_RDWR);
        var classification = VfioFileInspector.Instance.Classify(group);
        Assert.Equal(VfioFileKind.Group, classification.Kind);
        using (var container = Sys.Open(VfioIoctls.ContainerPath, LibC.O_RDWR))
            Assert.Equal(VfioFileKind.Container, VfioFileInspector.Instance.Classify(container).Kind);

        var coherency = VfioCoherencyProbe.Probe(group, VfioFileKind.Group);
        output.WriteLine($"{Group}: {classification.Description}; {coherency}");
        Assert.True(coherency.Probed, coherency.Detail);
        // The harness's VT-d has snoop control, so the type1 domain enforces cache coherency.
        Assert.True(coherency.EnforcedCoherent, coherency.Detail);
        // The probe's temporary container is gone: the group can be put into another one.
        Assert.Equal(coherency, VfioCoherencyProbe.Probe(group, VfioFileKind.Group));
    }

    [VfioGroupFact]
    public void The_kernel_holds_an_attached_group_until_its_kvm_vfio_device_is_released()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        var device = vm.CreateDevice(KvmDeviceType.Vfio);
        using (var group = Sys.Open(Group, LibC.O_RDWR))
            device.SetDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd, group.Fd);
        // Closed here, but the kernel still holds the file (fget in kvm_vfio_file_add): the group stays open.
        Assert.Equal(16, Assert.Throws<SyscallException>(() => Sys.Open(Group, LibC.O_RDWR)).Errno); // EBUSY

        device.Dispose(); // kvm_vfio_release drops the reference
        using var reopened = Sys.Open(Group, LibC.O_RDWR);
    }

    [VfioGroupFact]
    public void The_kernels_device_attaches_refuses_twice_and_detaches_a_real_group()
    {
        using var accelerator = KvmAccelerator.Open();
        using var vm = accelerator.CreateVm();
        Rules(KvmVfioDevices.Create(vm), AcceleratorExpect.Kernel);
    }

    [VfioGroupFact]
    public void The_runtimes_device_judges_a_real_group_as_the_kernel_does()
    {
        using var accelerator = new SoftAccelerator();
        using var vm = accelerator.CreateVm();
        Rules(KvmVfioDevices.Create(vm), AcceleratorExpect.Runtime);
    }

    private enum AcceleratorExpect { Kernel, Runtime }

    private void Rules(IKvmVfioDevice device, AcceleratorExpect which)
    {
        using (device)
        {
            using var group = Sys.Open(Group, LibC.O_RDWR);
            device.AddFile(group);
            var file = Assert.Single(device.Files);
            Assert.Equal((Group, VfioFileKind.Group), (file.Name, file.Classification.Kind));
            Assert.Equal(!file.Coherency.EnforcedCoherent, device.NonCoherentDma);
            output.WriteLine($"{which}: {file}");

            var twice = Assert.Throws<KvmVfioException>(() => device.AddFile(group));
            Assert.Equal((KvmVfioFailure.AlreadyAttached, Errnos.EEXIST), (twice.Failure, twice.Errno));
            if (which == AcceleratorExpect.Kernel) Assert.IsType<SyscallException>(twice.InnerException);

            device.DeleteFile(group);
            Assert.Empty(device.Files);
            Assert.False(device.NonCoherentDma);
            var again = Assert.Throws<KvmVfioException>(() => device.DeleteFile(group));
            Assert.Equal((KvmVfioFailure.NotAttached, Errnos.ENOENT), (again.Failure, again.Errno));

            device.AddFile(group);
        }
        // The device released the group with itself: it can be opened again.
        using var reopened = Sys.Open(Group, LibC.O_RDWR);
    }
}
