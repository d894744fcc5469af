using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// The header of struct kvm_cpuid2 (arch/x86/include/uapi/asm/kvm.h); <see cref="Nent"/> entries of
/// <see cref="KvmCpuidEntry2"/> follow it directly in memory (a flexible array member).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct KvmCpuid2
{
    /// <summary>Number of entries that follow (in: capacity; out: filled).</summary>
    [FieldOffset(0)] public uint Nent;
    /// <summary>Padding.</summary>
    [FieldOffset(4)] public uint Padding;
}
