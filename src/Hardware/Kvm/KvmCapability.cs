namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// KVM_CAP_* values (include/uapi/linux/kvm.h) for KVM_CHECK_EXTENSION: the ones Actorvisor asks about.
/// KVM_CHECK_EXTENSION returns 0 when absent, otherwise 1 or a capability-specific number.
/// </summary>
public enum KvmCapability
{
    /// <summary>KVM_CAP_IRQCHIP: in-kernel PIC/IOAPIC/LAPIC.</summary>
    Irqchip = 0,
    /// <summary>KVM_CAP_HLT.</summary>
    Hlt = 1,
    /// <summary>KVM_CAP_USER_MEMORY: KVM_SET_USER_MEMORY_REGION.</summary>
    UserMemory = 3,
    /// <summary>KVM_CAP_SET_TSS_ADDR.</summary>
    SetTssAddr = 4,
    /// <summary>KVM_CAP_EXT_CPUID: KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2.</summary>
    ExtCpuid = 7,
    /// <summary>KVM_CAP_NR_VCPUS: recommended maximum vCPUs.</summary>
    NrVcpus = 9,
    /// <summary>KVM_CAP_NR_MEMSLOTS: maximum memslots.</summary>
    NrMemslots = 10,
    /// <summary>KVM_CAP_MP_STATE.</summary>
    MpState = 14,
    /// <summary>KVM_CAP_COALESCED_MMIO.</summary>
    CoalescedMmio = 15,
    /// <summary>KVM_CAP_IRQFD.</summary>
    Irqfd = 32,
    /// <summary>KVM_CAP_IOEVENTFD.</summary>
    Ioeventfd = 36,
    /// <summary>KVM_CAP_SET_IDENTITY_MAP_ADDR.</summary>
    SetIdentityMapAddr = 37,
    /// <summary>KVM_CAP_ENABLE_CAP.</summary>
    EnableCap = 54,
    /// <summary>KVM_CAP_ASYNC_PF: paravirtual async page faults.</summary>
    AsyncPf = 59,
    /// <summary>KVM_CAP_MAX_VCPUS.</summary>
    MaxVcpus = 66,
    /// <summary>KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC emulates the TSC-deadline timer mode.</summary>
    TscDeadlineTimer = 72,
    /// <summary>KVM_CAP_SYNC_REGS.</summary>
    SyncRegs = 74,
    /// <summary>KVM_CAP_KVMCLOCK_CTRL.</summary>
    KvmclockCtrl = 76,
    /// <summary>KVM_CAP_READONLY_MEM: KVM_MEM_READONLY memslots.</summary>
    ReadonlyMem = 81,
    /// <summary>KVM_CAP_DEVICE_CTRL: KVM_CREATE_DEVICE and the device attribute ioctls.</summary>
    DeviceCtrl = 89,
    /// <summary>KVM_CAP_ENABLE_CAP_VM.</summary>
    EnableCapVm = 98,
    /// <summary>KVM_CAP_CHECK_EXTENSION_VM: KVM_CHECK_EXTENSION on a VM fd.</summary>
    CheckExtensionVm = 105,
    /// <summary>KVM_CAP_IMMEDIATE_EXIT: kvm_run.immediate_exit.</summary>
    ImmediateExit = 136,
    /// <summary>KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2.</summary>
    ManualDirtyLogProtect2 = 168,
    /// <summary>KVM_CAP_DIRTY_LOG_RING.</summary>
    DirtyLogRing = 192,
}
