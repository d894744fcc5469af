using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Kvm.Abi;

/// <summary>
/// struct kvm_run (include/uapi/linux/kvm.h): the page the kernel shares with userspace through mmap of
/// the vCPU fd. The header, the exit union at offset 32 (only the members Actorvisor decodes) and the
/// sync-regs tail; the union and the tail are sized as the kernel sizes them.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2352)]
public struct KvmRun
{
    /// <summary>Offset of the exit union (io, mmio, fail_entry, internal, ...).</summary>
    public const int ExitUnionOffset = 32;

    /// <summary>in: request_interrupt_window.</summary>
    [FieldOffset(0)] public byte RequestInterruptWindow;
    /// <summary>in: immediate_exit — when set, KVM_RUN returns -EINTR before entering the guest (api.rst 5 "immediate_exit").</summary>
    [FieldOffset(1)] public byte ImmediateExit;
    /// <summary>out: exit_reason, one of <see cref="KvmExitReason"/>.</summary>
    [FieldOffset(8)] public uint ExitReason;
    /// <summary>out: ready_for_interrupt_injection.</summary>
    [FieldOffset(12)] public byte ReadyForInterruptInjection;
    /// <summary>out: if_flag.</summary>
    [FieldOffset(13)] public byte IfFlag;
    /// <summary>out: flags (KVM_RUN_X86_SMM, ...).</summary>
    [FieldOffset(14)] public ushort Flags;
    /// <summary>in (pre_kvm_run) / out (post_kvm_run): cr8.</summary>
    [FieldOffset(16)] public ulong Cr8;
    /// <summary>apic_base.</summary>
    [FieldOffset(24)] public ulong ApicBase;
    /// <summary>KVM_EXIT_IO: the io member of the exit union.</summary>
    [FieldOffset(ExitUnionOffset)] public KvmRunIo Io;
    /// <summary>KVM_EXIT_MMIO: the mmio member of the exit union.</summary>
    [FieldOffset(ExitUnionOffset)] public KvmRunMmio Mmio;
    /// <summary>KVM_EXIT_FAIL_ENTRY: the fail_entry member of the exit union.</summary>
    [FieldOffset(ExitUnionOffset)] public KvmRunFailEntry FailEntry;
    /// <summary>KVM_EXIT_INTERNAL_ERROR: the internal member of the exit union.</summary>
    [FieldOffset(ExitUnionOffset)] public KvmRunInternal Internal;
    /// <summary>KVM_EXIT_SYSTEM_EVENT: the system_event member of the exit union.</summary>
    [FieldOffset(ExitUnionOffset)] public KvmRunSystemEvent SystemEvent;
    /// <summary>kvm_valid_regs (KVM_CAP_SYNC_REGS).</summary>
    [FieldOffset(288)] public ulong KvmValidRegs;
    /// <summary>kvm_dirty_regs (KVM_CAP_SYNC_REGS).</summary>
    [FieldOffset(296)] public ulong KvmDirtyRegs;
}

/// <summary>kvm_run.io: a port access; the data lives in the kvm_run page at <see cref="DataOffset"/>.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct KvmRunIo
{
    /// <summary>KVM_EXIT_IO_IN (0) or KVM_EXIT_IO_OUT (1).</summary>
    [FieldOffset(0)] public byte Direction;
    /// <summary>Bytes per access: 1, 2 or 4.</summary>
    [FieldOffset(1)] public byte Size;
    /// <summary>The port.</summary>
    [FieldOffset(2)] public ushort Port;
    /// <summary>Number of accesses: more than one for rep ins/outs.</summary>
    [FieldOffset(4)] public uint Count;
    /// <summary>Offset of the data from the start of the kvm_run page (relative to kvm_run).</summary>
    [FieldOffset(8)] public ulong DataOffset;

    /// <summary>kvm_run.io.direction for IN.</summary>
    public const byte DirectionIn = 0;
    /// <summary>kvm_run.io.direction for OUT.</summary>
    public const byte DirectionOut = 1;
}

/// <summary>kvm_run.mmio: an access to guest-physical memory with no RAM behind it (or a write to a read-only slot).</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
public unsafe struct KvmRunMmio
{
    /// <summary>Guest-physical address.</summary>
    [FieldOffset(0)] public ulong PhysAddr;
    /// <summary>data[8]: written by the guest, or to be filled for a read.</summary>
    [FieldOffset(8)] public fixed byte Data[8];
    /// <summary>Access length in bytes (1 to 8).</summary>
    [FieldOffset(16)] public uint Len;
    /// <summary>Non-zero for a write.</summary>
    [FieldOffset(20)] public byte IsWrite;
}

/// <summary>kvm_run.fail_entry: KVM_RUN could not enter the guest.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
public struct KvmRunFailEntry
{
    /// <summary>The hardware's reason (VMX: exit qualification; SVM: the VMEXIT code of a failed VMRUN).</summary>
    [FieldOffset(0)] public ulong HardwareEntryFailureReason;
    /// <summary>The physical CPU the entry failed on.</summary>
    [FieldOffset(8)] public uint Cpu;
}

/// <summary>kvm_run.internal: KVM could not handle an exit itself (e.g. an instruction it cannot emulate).</summary>
[StructLayout(LayoutKind.Explicit, Size = 168)]
public unsafe struct KvmRunInternal
{
    /// <summary>KVM_INTERNAL_ERROR_* sub-code.</summary>
    [FieldOffset(0)] public uint Suberror;
    /// <summary>How many of <see cref="Data"/> are valid.</summary>
    [FieldOffset(4)] public uint Ndata;
    /// <summary>data[16]: sub-error specific words.</summary>
    [FieldOffset(8)] public fixed ulong Data[16];

    /// <summary>Maximum number of data words.</summary>
    public const int MaxData = 16;
}

/// <summary>kvm_run.system_event: the guest asked for shutdown, reset or crash handling.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct KvmRunSystemEvent
{
    /// <summary>KVM_SYSTEM_EVENT_SHUTDOWN (1), _RESET (2), _CRASH (3), ...</summary>
    [FieldOffset(0)] public uint Type;
    /// <summary>Number of valid data words.</summary>
    [FieldOffset(4)] public uint Ndata;
    /// <summary>First data word (flags in older kernels).</summary>
    [FieldOffset(8)] public ulong Data0;
}
