using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// struct kvm_irqfd (include/uapi/linux/kvm.h), the argument of KVM_IRQFD: a write to the eventfd <see cref="Fd"/>
/// injects GSI <see cref="Gsi"/> on the in-kernel irqchip (an edge: raised and lowered), from any thread, without
/// an ioctl per interrupt.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct KvmIrqfd
{
    /// <summary>KVM_IRQFD_FLAG_DEASSIGN.</summary>
    public const uint FlagDeassign = 1;

    /// <summary>The eventfd.</summary>
    [FieldOffset(0)] public uint Fd;
    /// <summary>The GSI.</summary>
    [FieldOffset(4)] public uint Gsi;
    /// <summary>KVM_IRQFD_FLAG_*.</summary>
    [FieldOffset(8)] public uint Flags;
    /// <summary>The resample eventfd (level-triggered interrupts only; unused).</summary>
    [FieldOffset(12)] public uint Resamplefd;
}
