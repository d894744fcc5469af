namespace Actorvisor.Hardware.Kvm;

/// <summary>KVM_DEV_TYPE_* values (include/uapi/linux/kvm.h) for KVM_CREATE_DEVICE.</summary>
public enum KvmDeviceType : uint
{
    /// <summary>KVM_DEV_TYPE_VFIO: the KVM-VFIO pseudo device (virt/kvm/vfio.c).</summary>
    Vfio = 4,
}
