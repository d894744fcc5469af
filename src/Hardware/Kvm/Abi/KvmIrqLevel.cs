using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>struct kvm_irq_level (include/uapi/linux/kvm.h), the argument of KVM_IRQ_LINE: a GSI and its new level.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct KvmIrqLevel
{
    /// <summary>The GSI (ISA IRQ 0-15 reach both the PIC and the IOAPIC).</summary>
    [FieldOffset(0)] public uint Irq;
    /// <summary>1 = asserted, 0 = deasserted.</summary>
    [FieldOffset(4)] public uint Level;
}
