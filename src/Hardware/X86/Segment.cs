namespace Actorvisor.Hardware.X86;

/// <summary>One segment register with its hidden descriptor cache (struct kvm_segment).</summary>
public record struct Segment
{
    /// <summary>Base address.</summary>
    public ulong Base;
    /// <summary>Limit (byte granular, as KVM reports it).</summary>
    public uint Limit;
    /// <summary>Selector.</summary>
    public ushort Selector;
    /// <summary>Descriptor type (4 bits).</summary>
    public byte Type;
    /// <summary>Present.</summary>
    public bool Present;
    /// <summary>Privilege level.</summary>
    public byte Dpl;
    /// <summary>Default operand size (D/B).</summary>
    public bool Db;
    /// <summary>Code/data (1) or system (0) descriptor.</summary>
    public bool S;
    /// <summary>64-bit code segment.</summary>
    public bool L;
    /// <summary>Granularity.</summary>
    public bool G;
    /// <summary>Available bit.</summary>
    public bool Avl;
    /// <summary>Unusable (null) segment.</summary>
    public bool Unusable;

    /// <summary>A real-mode segment for <paramref name="selector"/> (base = selector * 16, 64 KiB limit).</summary>
    public static Segment RealMode(ushort selector, bool code) => new()
    {
        Base = (ulong)selector << 4, Limit = 0xffff, Selector = selector, Type = (byte)(code ? 0xb : 0x3),
        Present = true, S = true,
    };
}

/// <summary>A descriptor-table register: GDTR or IDTR (struct kvm_dtable).</summary>
public record struct DescriptorTable(ulong Base, ushort Limit);
