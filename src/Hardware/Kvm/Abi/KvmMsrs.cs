using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_msrs (arch/x86/include/uapi/asm/kvm.h): the header KVM_GET/SET_MSRS take, followed by nmsrs <see cref="KvmMsrEntry"/>s.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct KvmMsrs
{
    /// <summary>Number of entries that follow.</summary>
    [FieldOffset(0)] public uint Nmsrs;
    /// <summary>Padding.</summary>
    [FieldOffset(4)] public uint Pad;
}
