using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Tests.Machines;
using Actorvisor.Hardware.Vfio;
using Tmds.Linux;

namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>
/// What the KVM-VFIO device does with real files on every accelerator: the kernel's device on KVM, the
/// runtime's on the software accelerator, checked with the same assertions (and so the same errnos). Only
/// refusals can be checked with real files on a machine without VFIO devices; the accepting paths are in
/// <see cref="SoftKvmVfioDeviceTests"/> with stand-in files, and in the harness's real-VFIO run.
/// </summary>
public abstract class KvmVfioDeviceContractTests : IDisposable
{
    protected KvmVfioDeviceContractTests()
    {
        Accelerator = CreateAccelerator();
        Vm = Accelerator.CreateVm();
    }

    protected IAccelerator Accelerator { get; }

    protected IVirtualMachine Vm { get; }

    /// <summary>The accelerator under test.</summary>
    protected abstract IAccelerator CreateAccelerator();

    public void Dispose()
    {
        Vm.Dispose();
        Accelerator.Dispose();
        GC.SuppressFinalize(this);
    }

    [AcceleratorFact]
    public void The_device_implements_exactly_the_file_attributes()
    {
        using var device = KvmVfioDevices.Create(Vm);
        Assert.Equal(Accelerator.Kind, device.Kind);
        Assert.True(device.HasAttribute(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd));
        Assert.True(device.HasAttribute(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileDel));
        // KVM_DEV_VFIO_FILE attribute 3 is SET_SPAPR_TCE, which only exists on powerpc.
        Assert.False(device.HasAttribute(KvmVfioAttributes.GroupFile, 3));
        Assert.False(device.HasAttribute(2, KvmVfioAttributes.FileAdd));
        Assert.Empty(device.Files);
        Assert.False(device.NonCoherentDma);
    }

    [AcceleratorFact]
    public void Adding_dev_null_is_refused_as_not_a_vfio_file_with_einval()
    {
        using var device = KvmVfioDevices.Create(Vm);
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        var e = Assert.Throws<KvmVfioException>(() => device.AddFile(devNull));
        Assert.Equal(KvmVfioFailure.NotVfioFile, e.Failure);
        Assert.Equal(Errnos.EINVAL, e.Errno);
        Assert.Equal("/dev/null", e.File);
        Assert.StartsWith("KVM_DEV_VFIO_FILE_ADD /dev/null: EINVAL: ", e.Message);
        Assert.Contains("character device 1:3 (driver mem), not a VFIO group or device", e.Message);
        Assert.Empty(device.Files);
    }

    [AcceleratorFact]
    public void Adding_a_regular_file_is_refused_with_einval()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var device = KvmVfioDevices.Create(Vm);
            using var file = Sys.Open(path, LibC.O_RDWR);
            var e = Assert.Throws<KvmVfioException>(() => device.AddFile(file));
            Assert.Equal((KvmVfioFailure.NotVfioFile, Errnos.EINVAL), (e.Failure, e.Errno));
            Assert.Contains("regular file", e.Message);
        }
        finally { File.Delete(path); }
    }

    [AcceleratorFact]
    public void A_descriptor_that_is_not_open_is_refused_with_ebadf()
    {
        using var device = KvmVfioDevices.Create(Vm);
        var bogus = new FileDescriptor(1_000_000, "fd 1000000");
        try
        {
            var add = Assert.Throws<KvmVfioException>(() => device.AddFile(bogus));
            Assert.Equal((KvmVfioFailure.BadDescriptor, Errnos.EBADF), (add.Failure, add.Errno));
            var del = Assert.Throws<KvmVfioException>(() => device.DeleteFile(bogus));
            Assert.Equal((KvmVfioFailure.BadDescriptor, Errnos.EBADF), (del.Failure, del.Errno));
        }
        finally { bogus.SetHandleAsInvalid(); }
    }

    [AcceleratorFact]
    public void Deleting_a_file_that_was_never_added_is_refused_with_enoent()
    {
        using var device = KvmVfioDevices.Create(Vm);
        using var devNull = Sys.Open("/dev/null", LibC.O_RDWR);
        var e = Assert.Throws<KvmVfioException>(() => device.DeleteFile(devNull));
        Assert.Equal((KvmVfioFailure.NotAttached, Errnos.ENOENT), (e.Failure, e.Errno));
        Assert.StartsWith("KVM_DEV_VFIO_FILE_DEL /dev/null: ENOENT: ", e.Message);
    }

    [AcceleratorFact]
    public void A_vm_has_one_kvm_vfio_device_at_a_time()
    {
        var first = KvmVfioDevices.Create(Vm);
        var e = Assert.Throws<KvmVfioException>(() => KvmVfioDevices.Create(Vm));
        Assert.Equal(KvmVfioFailure.DeviceExists, e.Failure);
        Assert.Equal("EBUSY", e.ErrnoName);

        // Closing the device releases it (kvm_vfio_release), which frees the VM's place for a new one.
        first.Dispose();
        using var second = KvmVfioDevices.Create(Vm);
        Assert.True(second.HasAttribute(KvmVfioAttributes.GroupFile, KvmVfioAttributes.FileAdd));

        // Another VM has its own.
        using var otherVm = Accelerator.CreateVm();
        using var other = KvmVfioDevices.Create(otherVm);
    }
}

/// <summary>The KVM-VFIO contract on the software accelerator: the runtime's device.</summary>
public sealed class SoftKvmVfioDeviceContractTests : KvmVfioDeviceContractTests
{
    protected override IAccelerator CreateAccelerator() => new Actorvisor.Hardware.Soft.SoftAccelerator();
}

/// <summary>The KVM-VFIO contract on KVM: the kernel's device; runs in the KVM harness, skipped by `dotnet test` without KVM.</summary>
public sealed class KvmVfioDeviceOnKvmContractTests : KvmVfioDeviceContractTests, IAcceleratorAvailability
{
    public static string? UnavailableReason => KvmAccelerator.IsHardwareAssistedAvailable(out var reason) ? null : reason;

    protected override IAccelerator CreateAccelerator() => KvmAccelerator.Open();
}
