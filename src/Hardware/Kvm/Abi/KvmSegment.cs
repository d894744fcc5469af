using System.Runtime.InteropServices;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_segment (arch/x86/include/uapi/asm/kvm.h): a segment register with its hidden part.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
public struct KvmSegment
{
    /// <summary>Base address.</summary>
    [FieldOffset(0)] public ulong Base;
    /// <summary>Limit in bytes.</summary>
    [FieldOffset(8)] public uint Limit;
    /// <summary>Selector.</summary>
    [FieldOffset(12)] public ushort Selector;
    /// <summary>Descriptor type.</summary>
    [FieldOffset(14)] public byte Type;
    /// <summary>Present.</summary>
    [FieldOffset(15)] public byte Present;
    /// <summary>Descriptor privilege level.</summary>
    [FieldOffset(16)] public byte Dpl;
    /// <summary>Default operand size.</summary>
    [FieldOffset(17)] public byte Db;
    /// <summary>Code/data (1) or system (0).</summary>
    [FieldOffset(18)] public byte S;
    /// <summary>64-bit code.</summary>
    [FieldOffset(19)] public byte L;
    /// <summary>Granularity.</summary>
    [FieldOffset(20)] public byte G;
    /// <summary>Available for software.</summary>
    [FieldOffset(21)] public byte Avl;
    /// <summary>Unusable (null) segment.</summary>
    [FieldOffset(22)] public byte Unusable;
    /// <summary>Padding.</summary>
    [FieldOffset(23)] public byte Padding;

    /// <summary>The kernel struct for <paramref name="s"/>.</summary>
    public static KvmSegment From(in Segment s) => new()
    {
        Base = s.Base, Limit = s.Limit, Selector = s.Selector, Type = s.Type, Present = Bit(s.Present), Dpl = s.Dpl,
        Db = Bit(s.Db), S = Bit(s.S), L = Bit(s.L), G = Bit(s.G), Avl = Bit(s.Avl), Unusable = Bit(s.Unusable),
    };

    /// <summary>This struct as Actorvisor's <see cref="Segment"/>.</summary>
    public readonly Segment ToSegment() => new()
    {
        Base = Base, Limit = Limit, Selector = Selector, Type = Type, Present = Present != 0, Dpl = Dpl,
        Db = Db != 0, S = S != 0, L = L != 0, G = G != 0, Avl = Avl != 0, Unusable = Unusable != 0,
    };

    private static byte Bit(bool b) => b ? (byte)1 : (byte)0;
}
