using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_msr_entry (arch/x86/include/uapi/asm/kvm.h): one MSR of KVM_GET/SET_MSRS.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct KvmMsrEntry
{
    /// <summary>The MSR number.</summary>
    [FieldOffset(0)] public uint Index;
    /// <summary>Reserved, zero.</summary>
    [FieldOffset(4)] public uint Reserved;
    /// <summary>The value.</summary>
    [FieldOffset(8)] public ulong Data;
}
