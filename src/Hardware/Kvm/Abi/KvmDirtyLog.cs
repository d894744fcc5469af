using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_dirty_log (include/uapi/linux/kvm.h), the argument of KVM_GET_DIRTY_LOG.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct KvmDirtyLog
{
    /// <summary>The memslot.</summary>
    [FieldOffset(0)] public uint Slot;
    /// <summary>Padding.</summary>
    [FieldOffset(4)] public uint Padding1;
    /// <summary>Userspace address of a bitmap with one bit per page of the slot, 64-bit words.</summary>
    [FieldOffset(8)] public ulong DirtyBitmap;
}
