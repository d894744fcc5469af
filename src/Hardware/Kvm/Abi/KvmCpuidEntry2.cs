using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_cpuid_entry2 (arch/x86/include/uapi/asm/kvm.h): one CPUID leaf/subleaf and its output.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
public struct KvmCpuidEntry2
{
    /// <summary>Leaf (EAX input).</summary>
    [FieldOffset(0)] public uint Function;
    /// <summary>Subleaf (ECX input), when <see cref="Flags"/> has KVM_CPUID_FLAG_SIGNIFCANT_INDEX.</summary>
    [FieldOffset(4)] public uint Index;
    /// <summary>KVM_CPUID_FLAG_* bits.</summary>
    [FieldOffset(8)] public uint Flags;
    /// <summary>EAX output.</summary>
    [FieldOffset(12)] public uint Eax;
    /// <summary>EBX output.</summary>
    [FieldOffset(16)] public uint Ebx;
    /// <summary>ECX output.</summary>
    [FieldOffset(20)] public uint Ecx;
    /// <summary>EDX output.</summary>
    [FieldOffset(24)] public uint Edx;
    /// <summary>Padding (__u32 padding[3]).</summary>
    [FieldOffset(28)] public uint Padding0;
    /// <summary>Padding.</summary>
    [FieldOffset(32)] public uint Padding1;
    /// <summary>Padding.</summary>
    [FieldOffset(36)] public uint Padding2;

    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, the kernel's spelling): <see cref="Index"/> matters.</summary>
    public const uint FlagSignificantIndex = 1;

    /// <inheritdoc />
    public override readonly string ToString() => $"CPUID 0x{Function:x}.{Index}: eax=0x{Eax:x} ebx=0x{Ebx:x} ecx=0x{Ecx:x} edx=0x{Edx:x}";
}
