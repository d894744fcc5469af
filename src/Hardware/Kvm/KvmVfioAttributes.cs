namespace Actorvisor.Hardware.Kvm;

/// <summary>Attribute groups and attributes of the KVM-VFIO device (Documentation/virt/kvm/devices/vfio.rst).</summary>
public static class KvmVfioAttributes
{
    /// <summary>KVM_DEV_VFIO_FILE (formerly KVM_DEV_VFIO_GROUP): the group of file attributes.</summary>
    public const uint GroupFile = 1;
    /// <summary>KVM_DEV_VFIO_FILE_ADD: add a VFIO group or device file; addr points to an int fd.</summary>
    public const ulong FileAdd = 1;
    /// <summary>KVM_DEV_VFIO_FILE_DEL: remove a VFIO file; addr points to an int fd.</summary>
    public const ulong FileDel = 2;
}
