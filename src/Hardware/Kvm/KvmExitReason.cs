namespace Actorvisor.Hardware.Kvm;

/// <summary>kvm_run.exit_reason values (KVM_EXIT_*, include/uapi/linux/kvm.h).</summary>
public enum KvmExitReason : uint
{
    /// <summary>KVM_EXIT_UNKNOWN.</summary>
    Unknown = 0,
    /// <summary>KVM_EXIT_EXCEPTION.</summary>
    Exception = 1,
    /// <summary>KVM_EXIT_IO: port I/O.</summary>
    Io = 2,
    /// <summary>KVM_EXIT_HYPERCALL.</summary>
    Hypercall = 3,
    /// <summary>KVM_EXIT_DEBUG.</summary>
    Debug = 4,
    /// <summary>KVM_EXIT_HLT.</summary>
    Hlt = 5,
    /// <summary>KVM_EXIT_MMIO.</summary>
    Mmio = 6,
    /// <summary>KVM_EXIT_IRQ_WINDOW_OPEN.</summary>
    IrqWindowOpen = 7,
    /// <summary>KVM_EXIT_SHUTDOWN: triple fault and similar.</summary>
    Shutdown = 8,
    /// <summary>KVM_EXIT_FAIL_ENTRY.</summary>
    FailEntry = 9,
    /// <summary>KVM_EXIT_INTR: a signal (or immediate_exit) interrupted KVM_RUN.</summary>
    Intr = 10,
    /// <summary>KVM_EXIT_SET_TPR.</summary>
    SetTpr = 11,
    /// <summary>KVM_EXIT_TPR_ACCESS.</summary>
    TprAccess = 12,
    /// <summary>KVM_EXIT_NMI.</summary>
    Nmi = 16,
    /// <summary>KVM_EXIT_INTERNAL_ERROR.</summary>
    InternalError = 17,
    /// <summary>KVM_EXIT_SYSTEM_EVENT.</summary>
    SystemEvent = 24,
}
