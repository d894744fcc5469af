using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_device_attr (include/uapi/linux/kvm.h), the argument of KVM_{SET,GET,HAS}_DEVICE_ATTR.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
public struct KvmDeviceAttr
{
    /// <summary>No flags are defined; must be 0.</summary>
    [FieldOffset(0)] public uint Flags;
    /// <summary>Device-defined attribute group (KVM_DEV_VFIO_FILE, ...).</summary>
    [FieldOffset(4)] public uint Group;
    /// <summary>Attribute within the group (KVM_DEV_VFIO_FILE_ADD, ...).</summary>
    [FieldOffset(8)] public ulong Attr;
    /// <summary>Userspace address of the attribute's value.</summary>
    [FieldOffset(16)] public ulong Addr;
}
