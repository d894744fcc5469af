using System.Runtime.InteropServices;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_dtable (arch/x86/include/uapi/asm/kvm.h): GDTR or IDTR.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct KvmDtable
{
    /// <summary>Linear base address.</summary>
    [FieldOffset(0)] public ulong Base;
    /// <summary>Limit.</summary>
    [FieldOffset(8)] public ushort Limit;
    /// <summary>Padding (__u16 padding[3]).</summary>
    [FieldOffset(10)] public ushort Padding0;
    /// <summary>Padding.</summary>
    [FieldOffset(12)] public ushort Padding1;
    /// <summary>Padding.</summary>
    [FieldOffset(14)] public ushort Padding2;

    /// <summary>The kernel struct for <paramref name="t"/>.</summary>
    public static KvmDtable From(DescriptorTable t) => new() { Base = t.Base, Limit = t.Limit };

    /// <summary>This struct as Actorvisor's <see cref="DescriptorTable"/>.</summary>
    public readonly DescriptorTable ToDescriptorTable() => new(Base, Limit);
}
