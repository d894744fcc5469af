namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// The sizes of the KVM state structs that snapshots save and restore as opaque bytes (arch/x86/include/uapi/asm/kvm.h):
/// userspace never reads inside them, it only hands back what the kernel gave, so only their size matters. The
/// sizes also go into the ioctl numbers (<see cref="KvmIoctls"/>) and into the state blob header, where a
/// different size refuses the blob.
/// </summary>
public static class KvmStateSizes
{
    /// <summary>struct kvm_xsave: __u32 region[1024] (the legacy 4 KiB XSAVE area; KVM_GET_XSAVE2 is not used).</summary>
    public const int Xsave = 4096;
    /// <summary>struct kvm_xcrs: nr_xcrs, flags, 16 × kvm_xcr {xcr, reserved, value}, __u64 padding[16].</summary>
    public const int Xcrs = 8 + 16 * 16 + 16 * 8;
    /// <summary>struct kvm_vcpu_events: exception, interrupt, nmi, sipi_vector, flags, smi, triple_fault, reserved, payload.</summary>
    public const int VcpuEvents = 64;
    /// <summary>struct kvm_debugregs: db[4], dr6, dr7, flags, reserved[9].</summary>
    public const int DebugRegs = 16 * 8;
    /// <summary>struct kvm_irqchip: chip_id, pad, a 512-byte union (PIC state or IOAPIC state).</summary>
    public const int Irqchip = 8 + 512;
    /// <summary>struct kvm_pit_state2: 3 × kvm_pit_channel_state (24 bytes), flags, reserved[9].</summary>
    public const int PitState2 = 3 * 24 + 4 + 9 * 4;
    /// <summary>struct kvm_clock_data: clock, flags, pad0, realtime, host_tsc, pad[4].</summary>
    public const int ClockData = 8 + 4 + 4 + 8 + 8 + 4 * 4;
    /// <summary>kvm_irqchip chip_id of the master PIC.</summary>
    public const uint IrqchipPicMaster = 0;
    /// <summary>kvm_irqchip chip_id of the slave PIC.</summary>
    public const uint IrqchipPicSlave = 1;
    /// <summary>kvm_irqchip chip_id of the IOAPIC.</summary>
    public const uint IrqchipIoapic = 2;
}
