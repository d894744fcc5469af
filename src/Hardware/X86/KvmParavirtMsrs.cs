namespace Actorvisor.Hardware.X86;

/// <summary>
/// The numbers of the KVM paravirtual MSRs of the async page-fault protocol (Documentation/virt/kvm/x86/msr.rst)
/// and the bits of MSR_KVM_ASYNC_PF_EN.
/// </summary>
public static class KvmParavirtMsrs
{
    /// <summary>MSR_KVM_ASYNC_PF_EN: the 64-byte-aligned guest area and the enable bits.</summary>
    public const uint AsyncPfEnable = 0x4b56_4d02;

    /// <summary>MSR_KVM_ASYNC_PF_INT: the "page ready" interrupt vector (bits 7:0).</summary>
    public const uint AsyncPfInterrupt = 0x4b56_4d06;

    /// <summary>MSR_KVM_ASYNC_PF_ACK: the guest acknowledges a "page ready" event (write 1).</summary>
    public const uint AsyncPfAck = 0x4b56_4d07;

    /// <summary>KVM_ASYNC_PF_ENABLED.</summary>
    public const ulong Enabled = 1 << 0;

    /// <summary>KVM_ASYNC_PF_SEND_ALWAYS: also deliver "page not present" in kernel mode.</summary>
    public const ulong SendAlways = 1 << 1;

    /// <summary>KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT.</summary>
    public const ulong DeliveryAsPfVmexit = 1 << 2;

    /// <summary>KVM_ASYNC_PF_DELIVERY_AS_INT: "page ready" arrives as the MSR_KVM_ASYNC_PF_INT vector.</summary>
    public const ulong DeliveryAsInt = 1 << 3;

    /// <summary>Bits 4-5 of MSR_KVM_ASYNC_PF_EN are reserved: KVM refuses a write that sets them (#GP).</summary>
    public const ulong EnableReservedBits = 0x30;
}
