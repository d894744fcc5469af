using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_create_device (include/uapi/linux/kvm.h), the argument of KVM_CREATE_DEVICE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
public struct KvmCreateDevice
{
    /// <summary>in: KVM_DEV_TYPE_*.</summary>
    [FieldOffset(0)] public uint Type;
    /// <summary>out: the new device fd.</summary>
    [FieldOffset(4)] public int Fd;
    /// <summary>in: KVM_CREATE_DEVICE_TEST to only ask whether the type is supported.</summary>
    [FieldOffset(8)] public uint Flags;

    /// <summary>KVM_CREATE_DEVICE_TEST.</summary>
    public const uint FlagTest = 1;
}
