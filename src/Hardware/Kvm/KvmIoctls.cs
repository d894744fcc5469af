using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// Every KVM ioctl request number Actorvisor uses, encoded by <see cref="IoctlNumber"/>
/// (_IO/_IOR/_IOW/_IOWR over KVMIO = 0xAE) from the sizes of the structs in <see cref="Abi"/>.
/// The layout test checks each value against the number the kernel headers produce.
/// </summary>
public static class KvmIoctls
{
    /// <summary>KVMIO: the ioctl "type" byte of every KVM request.</summary>
    public const uint KvmIo = 0xAE;

    private static ulong Io(uint nr) => IoctlNumber.Io(KvmIo, nr);
    private static ulong Ior<T>(uint nr) where T : unmanaged => IoctlNumber.Ior<T>(KvmIo, nr);
    private static ulong Iow<T>(uint nr) where T : unmanaged => IoctlNumber.Iow<T>(KvmIo, nr);
    private static ulong Iowr<T>(uint nr) where T : unmanaged => IoctlNumber.Iowr<T>(KvmIo, nr);
    // The state structs saved as opaque blobs (KvmStateSizes) have no C# struct: their size is given directly.
    private static ulong IorSized(uint nr, int size) => IoctlNumber.Ioc(IoctlNumber.DirRead, KvmIo, nr, (uint)size);
    private static ulong IowSized(uint nr, int size) => IoctlNumber.Ioc(IoctlNumber.DirWrite, KvmIo, nr, (uint)size);
    private static ulong IowrSized(uint nr, int size) => IoctlNumber.Ioc(IoctlNumber.DirRead | IoctlNumber.DirWrite, KvmIo, nr, (uint)size);

    // ---- /dev/kvm (system) ioctls ----
    /// <summary>KVM_GET_API_VERSION: _IO(KVMIO, 0x00).</summary>
    public static readonly ulong GetApiVersion = Io(0x00);
    /// <summary>KVM_CREATE_VM: _IO(KVMIO, 0x01).</summary>
    public static readonly ulong CreateVm = Io(0x01);
    /// <summary>KVM_CHECK_EXTENSION: _IO(KVMIO, 0x03); also valid on a VM fd.</summary>
    public static readonly ulong CheckExtension = Io(0x03);
    /// <summary>KVM_GET_VCPU_MMAP_SIZE: _IO(KVMIO, 0x04).</summary>
    public static readonly ulong GetVcpuMmapSize = Io(0x04);
    /// <summary>KVM_GET_SUPPORTED_CPUID: _IOWR(KVMIO, 0x05, struct kvm_cpuid2).</summary>
    public static readonly ulong GetSupportedCpuid = Iowr<KvmCpuid2>(0x05);
    /// <summary>KVM_GET_MSR_INDEX_LIST: _IOWR(KVMIO, 0x02, struct kvm_msr_list) — the 4-byte header only.</summary>
    public static readonly ulong GetMsrIndexList = IowrSized(0x02, 4);

    // ---- VM ioctls ----
    /// <summary>KVM_CREATE_VCPU: _IO(KVMIO, 0x41).</summary>
    public static readonly ulong CreateVcpu = Io(0x41);
    /// <summary>KVM_GET_DIRTY_LOG: _IOW(KVMIO, 0x42, struct kvm_dirty_log).</summary>
    public static readonly ulong GetDirtyLog = Iow<KvmDirtyLog>(0x42);
    /// <summary>KVM_SET_USER_MEMORY_REGION: _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region).</summary>
    public static readonly ulong SetUserMemoryRegion = Iow<KvmUserspaceMemoryRegion>(0x46);
    /// <summary>KVM_SET_TSS_ADDR: _IO(KVMIO, 0x47).</summary>
    public static readonly ulong SetTssAddr = Io(0x47);
    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: _IOW(KVMIO, 0x48, __u64).</summary>
    public static readonly ulong SetIdentityMapAddr = Iow<ulong>(0x48);
    /// <summary>KVM_CREATE_IRQCHIP: _IO(KVMIO, 0x60).</summary>
    public static readonly ulong CreateIrqchip = Io(0x60);
    /// <summary>KVM_IRQ_LINE: _IOW(KVMIO, 0x61, struct kvm_irq_level).</summary>
    public static readonly ulong IrqLine = Iow<KvmIrqLevel>(0x61);
    /// <summary>KVM_CREATE_PIT2: _IOW(KVMIO, 0x77, struct kvm_pit_config).</summary>
    public static readonly ulong CreatePit2 = Iow<KvmPitConfig>(0x77);
    /// <summary>KVM_IRQFD: route an eventfd to a GSI of the in-kernel irqchip.</summary>
    public static readonly ulong IrqFd = Iow<KvmIrqfd>(0x76);
    /// <summary>KVM_IOEVENTFD: signal an eventfd on a guest MMIO or port write instead of exiting.</summary>
    public static readonly ulong IoEventFd = Iow<KvmIoeventfd>(0x79);
    /// <summary>KVM_GET_IRQCHIP: _IOWR(KVMIO, 0x62, struct kvm_irqchip).</summary>
    public static readonly ulong GetIrqchip = IowrSized(0x62, KvmStateSizes.Irqchip);
    /// <summary>KVM_SET_IRQCHIP: _IOR(KVMIO, 0x63, struct kvm_irqchip) (read direction, as the kernel header declares it).</summary>
    public static readonly ulong SetIrqchip = IorSized(0x63, KvmStateSizes.Irqchip);
    /// <summary>KVM_SET_CLOCK: _IOW(KVMIO, 0x7b, struct kvm_clock_data).</summary>
    public static readonly ulong SetClock = IowSized(0x7b, KvmStateSizes.ClockData);
    /// <summary>KVM_GET_CLOCK: _IOR(KVMIO, 0x7c, struct kvm_clock_data).</summary>
    public static readonly ulong GetClock = IorSized(0x7c, KvmStateSizes.ClockData);
    /// <summary>KVM_GET_PIT2: _IOR(KVMIO, 0x9f, struct kvm_pit_state2).</summary>
    public static readonly ulong GetPit2 = IorSized(0x9f, KvmStateSizes.PitState2);
    /// <summary>KVM_SET_PIT2: _IOW(KVMIO, 0xa0, struct kvm_pit_state2).</summary>
    public static readonly ulong SetPit2 = IowSized(0xa0, KvmStateSizes.PitState2);
    /// <summary>KVM_REINJECT_CONTROL: _IO(KVMIO, 0x71), with a pointer to struct kvm_reinject_control.</summary>
    public static readonly ulong ReinjectControl = Io(0x71);
    /// <summary>KVM_CREATE_DEVICE: _IOWR(KVMIO, 0xe0, struct kvm_create_device).</summary>
    public static readonly ulong CreateDevice = Iowr<KvmCreateDevice>(0xe0);

    // ---- vCPU ioctls ----
    /// <summary>KVM_RUN: _IO(KVMIO, 0x80).</summary>
    public static readonly ulong Run = Io(0x80);
    /// <summary>KVM_GET_REGS: _IOR(KVMIO, 0x81, struct kvm_regs).</summary>
    public static readonly ulong GetRegs = Ior<KvmRegs>(0x81);
    /// <summary>KVM_SET_REGS: _IOW(KVMIO, 0x82, struct kvm_regs).</summary>
    public static readonly ulong SetRegs = Iow<KvmRegs>(0x82);
    /// <summary>KVM_GET_SREGS: _IOR(KVMIO, 0x83, struct kvm_sregs).</summary>
    public static readonly ulong GetSregs = Ior<KvmSregs>(0x83);
    /// <summary>KVM_SET_SREGS: _IOW(KVMIO, 0x84, struct kvm_sregs).</summary>
    public static readonly ulong SetSregs = Iow<KvmSregs>(0x84);
    /// <summary>KVM_INTERRUPT: _IOW(KVMIO, 0x86, struct kvm_interrupt { __u32 irq; }).</summary>
    public static readonly ulong Interrupt = Iow<uint>(0x86);
    /// <summary>KVM_SET_SIGNAL_MASK: _IOW(KVMIO, 0x8b, struct kvm_signal_mask) — the header only, as the kernel declares it.</summary>
    public static readonly ulong SetSignalMask = IoctlNumber.Iow(KvmIo, 0x8b, KvmSignalMask.HeaderSize);
    /// <summary>KVM_GET_MSRS: _IOWR(KVMIO, 0x88, struct kvm_msrs) — the header only, as the kernel declares it.</summary>
    public static readonly ulong GetMsrs = Iowr<KvmMsrs>(0x88);
    /// <summary>KVM_SET_MSRS: _IOW(KVMIO, 0x89, struct kvm_msrs) — the header only.</summary>
    public static readonly ulong SetMsrs = Iow<KvmMsrs>(0x89);
    /// <summary>KVM_GET_FPU: _IOR(KVMIO, 0x8c, struct kvm_fpu).</summary>
    public static readonly ulong GetFpu = Ior<KvmFpu>(0x8c);
    /// <summary>KVM_SET_FPU: _IOW(KVMIO, 0x8d, struct kvm_fpu).</summary>
    public static readonly ulong SetFpu = Iow<KvmFpu>(0x8d);
    /// <summary>KVM_GET_LAPIC: _IOR(KVMIO, 0x8e, struct kvm_lapic_state).</summary>
    public static readonly ulong GetLapic = Ior<KvmLapicState>(0x8e);
    /// <summary>KVM_SET_LAPIC: _IOW(KVMIO, 0x8f, struct kvm_lapic_state).</summary>
    public static readonly ulong SetLapic = Iow<KvmLapicState>(0x8f);
    /// <summary>KVM_GET_MP_STATE: _IOR(KVMIO, 0x98, struct kvm_mp_state).</summary>
    public static readonly ulong GetMpState = Ior<KvmMpState>(0x98);
    /// <summary>KVM_SET_MP_STATE: _IOW(KVMIO, 0x99, struct kvm_mp_state).</summary>
    public static readonly ulong SetMpState = Iow<KvmMpState>(0x99);
    /// <summary>KVM_SET_CPUID2: _IOW(KVMIO, 0x90, struct kvm_cpuid2).</summary>
    public static readonly ulong SetCpuid2 = Iow<KvmCpuid2>(0x90);
    /// <summary>KVM_GET_CPUID2: _IOWR(KVMIO, 0x91, struct kvm_cpuid2).</summary>
    public static readonly ulong GetCpuid2 = Iowr<KvmCpuid2>(0x91);

    /// <summary>KVM_GET_VCPU_EVENTS: _IOR(KVMIO, 0x9f, struct kvm_vcpu_events).</summary>
    public static readonly ulong GetVcpuEvents = IorSized(0x9f, KvmStateSizes.VcpuEvents);
    /// <summary>KVM_SET_VCPU_EVENTS: _IOW(KVMIO, 0xa0, struct kvm_vcpu_events).</summary>
    public static readonly ulong SetVcpuEvents = IowSized(0xa0, KvmStateSizes.VcpuEvents);
    /// <summary>KVM_GET_DEBUGREGS: _IOR(KVMIO, 0xa1, struct kvm_debugregs).</summary>
    public static readonly ulong GetDebugRegs = IorSized(0xa1, KvmStateSizes.DebugRegs);
    /// <summary>KVM_SET_DEBUGREGS: _IOW(KVMIO, 0xa2, struct kvm_debugregs).</summary>
    public static readonly ulong SetDebugRegs = IowSized(0xa2, KvmStateSizes.DebugRegs);
    /// <summary>KVM_GET_XSAVE: _IOR(KVMIO, 0xa4, struct kvm_xsave).</summary>
    public static readonly ulong GetXsave = IorSized(0xa4, KvmStateSizes.Xsave);
    /// <summary>KVM_SET_XSAVE: _IOW(KVMIO, 0xa5, struct kvm_xsave).</summary>
    public static readonly ulong SetXsave = IowSized(0xa5, KvmStateSizes.Xsave);
    /// <summary>KVM_GET_XCRS: _IOR(KVMIO, 0xa6, struct kvm_xcrs).</summary>
    public static readonly ulong GetXcrs = IorSized(0xa6, KvmStateSizes.Xcrs);
    /// <summary>KVM_SET_XCRS: _IOW(KVMIO, 0xa7, struct kvm_xcrs).</summary>
    public static readonly ulong SetXcrs = IowSized(0xa7, KvmStateSizes.Xcrs);

    // ---- device ioctls ----
    /// <summary>KVM_SET_DEVICE_ATTR: _IOW(KVMIO, 0xe1, struct kvm_device_attr).</summary>
    public static readonly ulong SetDeviceAttr = Iow<KvmDeviceAttr>(0xe1);
    /// <summary>KVM_GET_DEVICE_ATTR: _IOW(KVMIO, 0xe2, struct kvm_device_attr).</summary>
    public static readonly ulong GetDeviceAttr = Iow<KvmDeviceAttr>(0xe2);
    /// <summary>KVM_HAS_DEVICE_ATTR: _IOW(KVMIO, 0xe3, struct kvm_device_attr).</summary>
    public static readonly ulong HasDeviceAttr = Iow<KvmDeviceAttr>(0xe3);
}
