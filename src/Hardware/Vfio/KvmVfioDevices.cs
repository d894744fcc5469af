using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// Creates the KVM-VFIO device of a VM, whatever its accelerator: the kernel's on KVM, the runtime's
/// (<see cref="SoftKvmVfioDevice"/>) otherwise. Either way a VM has at most one at a time (kvm_vfio_create
/// refuses a second with EBUSY; closing the device frees the place).
/// </summary>
public static class KvmVfioDevices
{
    private static readonly ConditionalWeakTable<IVirtualMachine, SoftKvmVfioDevice> SoftDevices = new();

    /// <summary>
    /// Creates the KVM-VFIO device of <paramref name="vm"/>. <paramref name="inspector"/> answers the VFIO
    /// questions (default: <see cref="VfioFileInspector.Instance"/>, the real files).
    /// </summary>
    /// <exception cref="KvmVfioException">the VM already has one (EBUSY), or KVM cannot create it.</exception>
    public static IKvmVfioDevice Create(IVirtualMachine vm, IVfioFileInspector? inspector = null)
    {
        ArgumentNullException.ThrowIfNull(vm);
        inspector ??= VfioFileInspector.Instance;
        if (vm is KvmVirtualMachine kvm)
        {
            DeviceFd device;
            try { device = kvm.Fd.CreateDevice(KvmDeviceType.Vfio); }
            catch (SyscallException e)
            {
                var failure = KvmVfioFailures.FromErrno(e.Errno);
                var detail = failure == KvmVfioFailure.DeviceExists ? "the VM already has a KVM-VFIO device" : e.Message;
                throw new KvmVfioException("KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)", "kvm-vm", failure, e.Errno, detail, e);
            }
            return new KernelKvmVfioDevice(device, inspector);
        }
        lock (SoftDevices)
        {
            if (SoftDevices.TryGetValue(vm, out _))
                throw new KvmVfioException("create KVM-VFIO device", $"{vm.Kind} VM", KvmVfioFailure.DeviceExists,
                    KvmVfioFailure.DeviceExists.Errno(), "the VM already has a KVM-VFIO device");
            SoftKvmVfioDevice? created = null;
            created = new SoftKvmVfioDevice(inspector, () =>
            {
                lock (SoftDevices)
                {
                    if (SoftDevices.TryGetValue(vm, out var current) && ReferenceEquals(current, created)) SoftDevices.Remove(vm);
                }
            });
            SoftDevices.Add(vm, created);
            return created;
        }
    }

    /// <summary>The attributes the KVM-VFIO device implements on x86 (kvm_vfio_has_attr): KVM_DEV_VFIO_FILE ADD and DEL.</summary>
    public static bool Implements(uint group, ulong attribute) =>
        group == KvmVfioAttributes.GroupFile && attribute is KvmVfioAttributes.FileAdd or KvmVfioAttributes.FileDel;
}
