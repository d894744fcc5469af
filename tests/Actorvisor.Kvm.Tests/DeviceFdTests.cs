using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Kvm.Tests;

/// <summary>KVM_CREATE_DEVICE and the device attribute ioctls, on the KVM-VFIO device (virt/kvm/vfio.c).</summary>
public sealed class DeviceFdTests
{
    [Fact]
    public void Vfio_device_has_file_attributes_and_refuses_a_non_vfio_file()
    {
        using var kvm = KvmFd.Open();
        using var vm = kvm.CreateVm();
        Assert.True(vm.SupportsDevice(KvmDeviceType.Vfio), "KVM_CREATE_DEVICE_TEST(KVM_DEV_TYPE_VFIO)");
        using var device = vm.CreateDevice(KvmDeviceType.Vfio);

        Assert.True(device.HasDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd));
        Assert.True(device.HasDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileDel));
        Assert.False(device.HasDeviceAttr(0x7fff, 1));

        // A memfd is a real file but not a VFIO group or device: kvm_vfio_file_add() refuses it with -EINVAL.
        using var notVfio = Sys.MemfdCreate("not-vfio");
        var e = Assert.Throws<SyscallException>(() =>
            device.SetDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd, notVfio.Fd));
        Assert.Equal(Errnos.EINVAL, e.Errno);
        Assert.Contains("KVM_SET_DEVICE_ATTR", e.Message);

        // A descriptor that is not open at all: -EBADF.
        var bad = Assert.Throws<SyscallException>(() =>
            device.SetDeviceAttr(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd, 100_000));
        Assert.Equal(Errnos.EBADF, bad.Errno);
    }
}
