namespace Actorvisor.Hardware.X86;

/// <summary>Segment, descriptor-table and control registers of one vCPU (the content of struct kvm_sregs).</summary>
public sealed record SpecialRegisters
{
    /// <summary>CS.</summary>
    public Segment Cs { get; init; }
    /// <summary>DS.</summary>
    public Segment Ds { get; init; }
    /// <summary>ES.</summary>
    public Segment Es { get; init; }
    /// <summary>FS.</summary>
    public Segment Fs { get; init; }
    /// <summary>GS.</summary>
    public Segment Gs { get; init; }
    /// <summary>SS.</summary>
    public Segment Ss { get; init; }
    /// <summary>TR.</summary>
    public Segment Tr { get; init; }
    /// <summary>LDTR.</summary>
    public Segment Ldt { get; init; }
    /// <summary>GDTR.</summary>
    public DescriptorTable Gdt { get; init; }
    /// <summary>IDTR.</summary>
    public DescriptorTable Idt { get; init; }
    /// <summary>CR0.</summary>
    public ulong Cr0 { get; init; }
    /// <summary>CR2.</summary>
    public ulong Cr2 { get; init; }
    /// <summary>CR3.</summary>
    public ulong Cr3 { get; init; }
    /// <summary>CR4.</summary>
    public ulong Cr4 { get; init; }
    /// <summary>CR8.</summary>
    public ulong Cr8 { get; init; }
    /// <summary>EFER MSR.</summary>
    public ulong Efer { get; init; }
    /// <summary>APIC base MSR.</summary>
    public ulong ApicBase { get; init; }
}
