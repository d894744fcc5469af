using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_sregs (arch/x86/include/uapi/asm/kvm.h), the argument of KVM_GET_SREGS / KVM_SET_SREGS.</summary>
[StructLayout(LayoutKind.Explicit, Size = 312)]
public struct KvmSregs
{
    /// <summary>CS.</summary>
    [FieldOffset(0)] public KvmSegment Cs;
    /// <summary>DS.</summary>
    [FieldOffset(24)] public KvmSegment Ds;
    /// <summary>ES.</summary>
    [FieldOffset(48)] public KvmSegment Es;
    /// <summary>FS.</summary>
    [FieldOffset(72)] public KvmSegment Fs;
    /// <summary>GS.</summary>
    [FieldOffset(96)] public KvmSegment Gs;
    /// <summary>SS.</summary>
    [FieldOffset(120)] public KvmSegment Ss;
    /// <summary>TR.</summary>
    [FieldOffset(144)] public KvmSegment Tr;
    /// <summary>LDTR.</summary>
    [FieldOffset(168)] public KvmSegment Ldt;
    /// <summary>GDTR.</summary>
    [FieldOffset(192)] public KvmDtable Gdt;
    /// <summary>IDTR.</summary>
    [FieldOffset(208)] public KvmDtable Idt;
    /// <summary>CR0.</summary>
    [FieldOffset(224)] public ulong Cr0;
    /// <summary>CR2.</summary>
    [FieldOffset(232)] public ulong Cr2;
    /// <summary>CR3.</summary>
    [FieldOffset(240)] public ulong Cr3;
    /// <summary>CR4.</summary>
    [FieldOffset(248)] public ulong Cr4;
    /// <summary>CR8.</summary>
    [FieldOffset(256)] public ulong Cr8;
    /// <summary>EFER MSR.</summary>
    [FieldOffset(264)] public ulong Efer;
    /// <summary>APIC base MSR.</summary>
    [FieldOffset(272)] public ulong ApicBase;
    /// <summary>interrupt_bitmap[(KVM_NR_INTERRUPTS + 63) / 64]: the pending external interrupt, if any.</summary>
    [FieldOffset(280)] public InterruptBitmap Interrupts;

    /// <summary>The four 64-bit words of kvm_sregs.interrupt_bitmap (KVM_NR_INTERRUPTS = 256).</summary>
    [InlineArray(4)]
    public struct InterruptBitmap
    {
        private ulong _word;
    }

    /// <summary>The kernel struct for <paramref name="s"/> (no pending interrupt).</summary>
    public static KvmSregs From(SpecialRegisters s) => new()
    {
        Cs = KvmSegment.From(s.Cs), Ds = KvmSegment.From(s.Ds), Es = KvmSegment.From(s.Es), Fs = KvmSegment.From(s.Fs),
        Gs = KvmSegment.From(s.Gs), Ss = KvmSegment.From(s.Ss), Tr = KvmSegment.From(s.Tr), Ldt = KvmSegment.From(s.Ldt),
        Gdt = KvmDtable.From(s.Gdt), Idt = KvmDtable.From(s.Idt),
        Cr0 = s.Cr0, Cr2 = s.Cr2, Cr3 = s.Cr3, Cr4 = s.Cr4, Cr8 = s.Cr8, Efer = s.Efer, ApicBase = s.ApicBase,
    };

    /// <summary>This struct as Actorvisor's <see cref="SpecialRegisters"/>.</summary>
    public readonly SpecialRegisters ToSpecialRegisters() => new()
    {
        Cs = Cs.ToSegment(), Ds = Ds.ToSegment(), Es = Es.ToSegment(), Fs = Fs.ToSegment(), Gs = Gs.ToSegment(),
        Ss = Ss.ToSegment(), Tr = Tr.ToSegment(), Ldt = Ldt.ToSegment(),
        Gdt = Gdt.ToDescriptorTable(), Idt = Idt.ToDescriptorTable(),
        Cr0 = Cr0, Cr2 = Cr2, Cr3 = Cr3, Cr4 = Cr4, Cr8 = Cr8, Efer = Efer, ApicBase = ApicBase,
    };
}
