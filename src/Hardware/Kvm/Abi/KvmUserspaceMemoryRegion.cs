using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_userspace_memory_region (include/uapi/linux/kvm.h), the argument of KVM_SET_USER_MEMORY_REGION.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct KvmUserspaceMemoryRegion
{
    /// <summary>Slot id (bits 16-31 select the address space; Actorvisor uses address space 0).</summary>
    [FieldOffset(0)] public uint Slot;
    /// <summary>KVM_MEM_LOG_DIRTY_PAGES (1), KVM_MEM_READONLY (2).</summary>
    [FieldOffset(4)] public uint Flags;
    /// <summary>First guest-physical address.</summary>
    [FieldOffset(8)] public ulong GuestPhysAddr;
    /// <summary>Size in bytes; 0 deletes the slot.</summary>
    [FieldOffset(16)] public ulong MemorySize;
    /// <summary>Host virtual address of the first byte.</summary>
    [FieldOffset(24)] public ulong UserspaceAddr;
}
