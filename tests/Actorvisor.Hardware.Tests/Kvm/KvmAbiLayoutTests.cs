using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Kvm.Abi;

namespace Actorvisor.Hardware.Tests.Kvm;

/// <summary>
/// The kernel structs and ioctl numbers against the values the kernel headers give. The expected numbers
/// were printed once by a C program compiled against linux-libc-dev 6.1 (include/uapi/linux/kvm.h,
/// arch/x86/include/uapi/asm/kvm.h) with sizeof/offsetof and the KVM_* macros; see tests/kvm-harness/abi/kvm-abi.c.
/// </summary>
public sealed class KvmAbiLayoutTests
{
    public static TheoryData<string, int, int> Sizes => new()
    {
        { nameof(KvmUserspaceMemoryRegion), Unsafe.SizeOf<KvmUserspaceMemoryRegion>(), 32 },
        { nameof(KvmRegs), Unsafe.SizeOf<KvmRegs>(), 144 },
        { nameof(KvmSegment), Unsafe.SizeOf<KvmSegment>(), 24 },
        { nameof(KvmDtable), Unsafe.SizeOf<KvmDtable>(), 16 },
        { nameof(KvmSregs), Unsafe.SizeOf<KvmSregs>(), 312 },
        { nameof(KvmRun), Unsafe.SizeOf<KvmRun>(), 2352 },
        { nameof(KvmCpuid2), Unsafe.SizeOf<KvmCpuid2>(), 8 },
        { nameof(KvmCpuidEntry2), Unsafe.SizeOf<KvmCpuidEntry2>(), 40 },
        { nameof(KvmDirtyLog), Unsafe.SizeOf<KvmDirtyLog>(), 16 },
        { nameof(KvmCreateDevice), Unsafe.SizeOf<KvmCreateDevice>(), 12 },
        { nameof(KvmDeviceAttr), Unsafe.SizeOf<KvmDeviceAttr>(), 24 },
        { nameof(KvmIrqLevel), Unsafe.SizeOf<KvmIrqLevel>(), 8 },
        { nameof(KvmPitConfig), Unsafe.SizeOf<KvmPitConfig>(), 64 },
        { nameof(KvmIrqfd), Unsafe.SizeOf<KvmIrqfd>(), 32 },
        { nameof(KvmIoeventfd), Unsafe.SizeOf<KvmIoeventfd>(), 64 },
        { nameof(KvmLapicState), Unsafe.SizeOf<KvmLapicState>(), 1024 },
        { nameof(KvmMsrs), Unsafe.SizeOf<KvmMsrs>(), 8 },
        { nameof(KvmMsrEntry), Unsafe.SizeOf<KvmMsrEntry>(), 16 },
        { nameof(KvmFpu), Unsafe.SizeOf<KvmFpu>(), 416 },
        { nameof(KvmMpState), Unsafe.SizeOf<KvmMpState>(), 4 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Struct_size_matches_the_kernel(string name, int actual, int kernel)
    {
        Assert.True(actual == kernel, $"sizeof(struct {name}) is {kernel} in the kernel, {actual} here");
    }

    public static TheoryData<Type, string, int> Offsets => new()
    {
        { typeof(KvmUserspaceMemoryRegion), "Slot", 0 }, { typeof(KvmUserspaceMemoryRegion), "Flags", 4 },
        { typeof(KvmUserspaceMemoryRegion), "GuestPhysAddr", 8 }, { typeof(KvmUserspaceMemoryRegion), "MemorySize", 16 },
        { typeof(KvmUserspaceMemoryRegion), "UserspaceAddr", 24 },
        { typeof(KvmRegs), "Rax", 0 }, { typeof(KvmRegs), "Rbx", 8 }, { typeof(KvmRegs), "Rcx", 16 }, { typeof(KvmRegs), "Rdx", 24 },
        { typeof(KvmRegs), "Rsi", 32 }, { typeof(KvmRegs), "Rdi", 40 }, { typeof(KvmRegs), "Rsp", 48 }, { typeof(KvmRegs), "Rbp", 56 },
        { typeof(KvmRegs), "R8", 64 }, { typeof(KvmRegs), "R15", 120 }, { typeof(KvmRegs), "Rip", 128 }, { typeof(KvmRegs), "Rflags", 136 },
        { typeof(KvmSegment), "Base", 0 }, { typeof(KvmSegment), "Limit", 8 }, { typeof(KvmSegment), "Selector", 12 },
        { typeof(KvmSegment), "Type", 14 }, { typeof(KvmSegment), "Present", 15 }, { typeof(KvmSegment), "Dpl", 16 },
        { typeof(KvmSegment), "Db", 17 }, { typeof(KvmSegment), "S", 18 }, { typeof(KvmSegment), "L", 19 }, { typeof(KvmSegment), "G", 20 },
        { typeof(KvmSegment), "Avl", 21 }, { typeof(KvmSegment), "Unusable", 22 }, { typeof(KvmSegment), "Padding", 23 },
        { typeof(KvmDtable), "Base", 0 }, { typeof(KvmDtable), "Limit", 8 }, { typeof(KvmDtable), "Padding0", 10 },
        { typeof(KvmSregs), "Cs", 0 }, { typeof(KvmSregs), "Ds", 24 }, { typeof(KvmSregs), "Es", 48 }, { typeof(KvmSregs), "Fs", 72 },
        { typeof(KvmSregs), "Gs", 96 }, { typeof(KvmSregs), "Ss", 120 }, { typeof(KvmSregs), "Tr", 144 }, { typeof(KvmSregs), "Ldt", 168 },
        { typeof(KvmSregs), "Gdt", 192 }, { typeof(KvmSregs), "Idt", 208 }, { typeof(KvmSregs), "Cr0", 224 }, { typeof(KvmSregs), "Cr2", 232 },
        { typeof(KvmSregs), "Cr3", 240 }, { typeof(KvmSregs), "Cr4", 248 }, { typeof(KvmSregs), "Cr8", 256 }, { typeof(KvmSregs), "Efer", 264 },
        { typeof(KvmSregs), "ApicBase", 272 }, { typeof(KvmSregs), "Interrupts", 280 },
        { typeof(KvmRun), "RequestInterruptWindow", 0 }, { typeof(KvmRun), "ImmediateExit", 1 }, { typeof(KvmRun), "ExitReason", 8 },
        { typeof(KvmRun), "ReadyForInterruptInjection", 12 }, { typeof(KvmRun), "IfFlag", 13 }, { typeof(KvmRun), "Flags", 14 },
        { typeof(KvmRun), "Cr8", 16 }, { typeof(KvmRun), "ApicBase", 24 }, { typeof(KvmRun), "Io", 32 }, { typeof(KvmRun), "Mmio", 32 },
        { typeof(KvmRun), "FailEntry", 32 }, { typeof(KvmRun), "Internal", 32 }, { typeof(KvmRun), "SystemEvent", 32 },
        { typeof(KvmRun), "KvmValidRegs", 288 }, { typeof(KvmRun), "KvmDirtyRegs", 296 },
        // Members of the exit union, relative to the union (kernel offsets minus 32).
        { typeof(KvmRunIo), "Direction", 0 }, { typeof(KvmRunIo), "Size", 1 }, { typeof(KvmRunIo), "Port", 2 },
        { typeof(KvmRunIo), "Count", 4 }, { typeof(KvmRunIo), "DataOffset", 8 },
        { typeof(KvmRunMmio), "PhysAddr", 0 }, { typeof(KvmRunMmio), "Data", 8 }, { typeof(KvmRunMmio), "Len", 16 }, { typeof(KvmRunMmio), "IsWrite", 20 },
        { typeof(KvmRunFailEntry), "HardwareEntryFailureReason", 0 }, { typeof(KvmRunFailEntry), "Cpu", 8 },
        { typeof(KvmRunInternal), "Suberror", 0 }, { typeof(KvmRunInternal), "Ndata", 4 }, { typeof(KvmRunInternal), "Data", 8 },
        { typeof(KvmCpuid2), "Nent", 0 }, { typeof(KvmCpuid2), "Padding", 4 },
        { typeof(KvmCpuidEntry2), "Function", 0 }, { typeof(KvmCpuidEntry2), "Index", 4 }, { typeof(KvmCpuidEntry2), "Flags", 8 },
        { typeof(KvmCpuidEntry2), "Eax", 12 }, { typeof(KvmCpuidEntry2), "Ebx", 16 }, { typeof(KvmCpuidEntry2), "Ecx", 20 },
        { typeof(KvmCpuidEntry2), "Edx", 24 }, { typeof(KvmCpuidEntry2), "Padding0", 28 },
        { typeof(KvmDirtyLog), "Slot", 0 }, { typeof(KvmDirtyLog), "Padding1", 4 }, { typeof(KvmDirtyLog), "DirtyBitmap", 8 },
        { typeof(KvmCreateDevice), "Type", 0 }, { typeof(KvmCreateDevice), "Fd", 4 }, { typeof(KvmCreateDevice), "Flags", 8 },
        { typeof(KvmDeviceAttr), "Flags", 0 }, { typeof(KvmDeviceAttr), "Group", 4 }, { typeof(KvmDeviceAttr), "Attr", 8 }, { typeof(KvmDeviceAttr), "Addr", 16 },
        { typeof(KvmSignalMask), "Len", 0 }, { typeof(KvmSignalMask), "Sigset", 4 },
        { typeof(KvmIrqLevel), "Irq", 0 }, { typeof(KvmIrqLevel), "Level", 4 },
        { typeof(KvmIrqfd), "Fd", 0 }, { typeof(KvmIrqfd), "Gsi", 4 }, { typeof(KvmIrqfd), "Flags", 8 }, { typeof(KvmIrqfd), "Resamplefd", 12 },
        { typeof(KvmIoeventfd), "Datamatch", 0 }, { typeof(KvmIoeventfd), "Addr", 8 }, { typeof(KvmIoeventfd), "Len", 16 },
        { typeof(KvmIoeventfd), "Fd", 20 }, { typeof(KvmIoeventfd), "Flags", 24 },
        { typeof(KvmMsrEntry), "Index", 0 }, { typeof(KvmMsrEntry), "Reserved", 4 }, { typeof(KvmMsrEntry), "Data", 8 },
        { typeof(KvmFpu), "Fcw", 128 }, { typeof(KvmFpu), "Fsw", 130 }, { typeof(KvmFpu), "Ftwx", 132 }, { typeof(KvmFpu), "LastOpcode", 134 },
        { typeof(KvmFpu), "LastIp", 136 }, { typeof(KvmFpu), "LastDp", 144 }, { typeof(KvmFpu), "Mxcsr", 408 },
    };

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Field_offset_matches_the_kernel(Type type, string field, int kernel)
    {
        int actual = (int)Marshal.OffsetOf(type, field);
        Assert.True(actual == kernel, $"offsetof({type.Name}, {field}) is {kernel} in the kernel, {actual} here");
    }

    [Fact]
    public void Kvm_run_data_offset_of_the_io_union_member_is_40_from_the_page_start()
    {
        Assert.Equal(40, KvmRun.ExitUnionOffset + (int)Marshal.OffsetOf<KvmRunIo>(nameof(KvmRunIo.DataOffset)));
        Assert.Equal(52, KvmRun.ExitUnionOffset + (int)Marshal.OffsetOf<KvmRunMmio>(nameof(KvmRunMmio.IsWrite)));
        Assert.Equal(40, KvmRun.ExitUnionOffset + (int)Marshal.OffsetOf<KvmRunInternal>(nameof(KvmRunInternal.Data)));
    }

    public static TheoryData<string, ulong, ulong> IoctlNumbers => new()
    {
        { "KVM_GET_API_VERSION", KvmIoctls.GetApiVersion, 0xae00 },
        { "KVM_CREATE_VM", KvmIoctls.CreateVm, 0xae01 },
        { "KVM_CHECK_EXTENSION", KvmIoctls.CheckExtension, 0xae03 },
        { "KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.GetVcpuMmapSize, 0xae04 },
        { "KVM_GET_SUPPORTED_CPUID", KvmIoctls.GetSupportedCpuid, 0xc008ae05 },
        { "KVM_CREATE_VCPU", KvmIoctls.CreateVcpu, 0xae41 },
        { "KVM_GET_DIRTY_LOG", KvmIoctls.GetDirtyLog, 0x4010ae42 },
        { "KVM_SET_USER_MEMORY_REGION", KvmIoctls.SetUserMemoryRegion, 0x4020ae46 },
        { "KVM_SET_TSS_ADDR", KvmIoctls.SetTssAddr, 0xae47 },
        { "KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.SetIdentityMapAddr, 0x4008ae48 },
        { "KVM_CREATE_DEVICE", KvmIoctls.CreateDevice, 0xc00caee0 },
        { "KVM_RUN", KvmIoctls.Run, 0xae80 },
        { "KVM_GET_REGS", KvmIoctls.GetRegs, 0x8090ae81 },
        { "KVM_SET_REGS", KvmIoctls.SetRegs, 0x4090ae82 },
        { "KVM_GET_SREGS", KvmIoctls.GetSregs, 0x8138ae83 },
        { "KVM_SET_SREGS", KvmIoctls.SetSregs, 0x4138ae84 },
        { "KVM_INTERRUPT", KvmIoctls.Interrupt, 0x4004ae86 },
        { "KVM_SET_SIGNAL_MASK", KvmIoctls.SetSignalMask, 0x4004ae8b },
        { "KVM_SET_CPUID2", KvmIoctls.SetCpuid2, 0x4008ae90 },
        { "KVM_GET_CPUID2", KvmIoctls.GetCpuid2, 0xc008ae91 },
        { "KVM_SET_DEVICE_ATTR", KvmIoctls.SetDeviceAttr, 0x4018aee1 },
        { "KVM_GET_DEVICE_ATTR", KvmIoctls.GetDeviceAttr, 0x4018aee2 },
        { "KVM_HAS_DEVICE_ATTR", KvmIoctls.HasDeviceAttr, 0x4018aee3 },
        { "KVM_CREATE_IRQCHIP", KvmIoctls.CreateIrqchip, 0xae60 },
        { "KVM_IRQ_LINE", KvmIoctls.IrqLine, 0x4008ae61 },
        { "KVM_CREATE_PIT2", KvmIoctls.CreatePit2, 0x4040ae77 },
        { "KVM_IRQFD", KvmIoctls.IrqFd, 0x4020ae76 },
        { "KVM_IOEVENTFD", KvmIoctls.IoEventFd, 0x4040ae79 },
        { "KVM_GET_MSRS", KvmIoctls.GetMsrs, 0xc008ae88 },
        { "KVM_SET_MSRS", KvmIoctls.SetMsrs, 0x4008ae89 },
        { "KVM_GET_FPU", KvmIoctls.GetFpu, 0x81a0ae8c },
        { "KVM_SET_FPU", KvmIoctls.SetFpu, 0x41a0ae8d },
        { "KVM_GET_LAPIC", KvmIoctls.GetLapic, 0x8400ae8e },
        { "KVM_SET_LAPIC", KvmIoctls.SetLapic, 0x4400ae8f },
        { "KVM_GET_MP_STATE", KvmIoctls.GetMpState, 0x8004ae98 },
        { "KVM_SET_MP_STATE", KvmIoctls.SetMpState, 0x4004ae99 },
        { "KVM_GET_MSR_INDEX_LIST", KvmIoctls.GetMsrIndexList, 0xc004ae02 },
        { "KVM_GET_IRQCHIP", KvmIoctls.GetIrqchip, 0xc208ae62 },
        { "KVM_SET_IRQCHIP", KvmIoctls.SetIrqchip, 0x8208ae63 },
        { "KVM_SET_CLOCK", KvmIoctls.SetClock, 0x4030ae7b },
        { "KVM_GET_CLOCK", KvmIoctls.GetClock, 0x8030ae7c },
        { "KVM_GET_PIT2", KvmIoctls.GetPit2, 0x8070ae9f },
        { "KVM_SET_PIT2", KvmIoctls.SetPit2, 0x4070aea0 },
        { "KVM_REINJECT_CONTROL", KvmIoctls.ReinjectControl, 0xae71 },
        { "KVM_GET_VCPU_EVENTS", KvmIoctls.GetVcpuEvents, 0x8040ae9f },
        { "KVM_SET_VCPU_EVENTS", KvmIoctls.SetVcpuEvents, 0x4040aea0 },
        { "KVM_GET_DEBUGREGS", KvmIoctls.GetDebugRegs, 0x8080aea1 },
        { "KVM_SET_DEBUGREGS", KvmIoctls.SetDebugRegs, 0x4080aea2 },
        { "KVM_GET_XSAVE", KvmIoctls.GetXsave, 0x9000aea4 },
        { "KVM_SET_XSAVE", KvmIoctls.SetXsave, 0x5000aea5 },
        { "KVM_GET_XCRS", KvmIoctls.GetXcrs, 0x8188aea6 },
        { "KVM_SET_XCRS", KvmIoctls.SetXcrs, 0x4188aea7 },
    };

    [Theory]
    [MemberData(nameof(IoctlNumbers))]
    public void Ioctl_number_matches_the_kernel(string name, ulong actual, ulong kernel)
    {
        Assert.True(actual == kernel, $"{name} is 0x{kernel:x} in the kernel, 0x{actual:x} here");
    }

    [Fact]
    public void Capability_and_exit_reason_values_match_the_kernel()
    {
        Assert.Equal(3, (int)KvmCapability.UserMemory);
        Assert.Equal(10, (int)KvmCapability.NrMemslots);
        Assert.Equal(81, (int)KvmCapability.ReadonlyMem);
        Assert.Equal(89, (int)KvmCapability.DeviceCtrl);
        Assert.Equal(136, (int)KvmCapability.ImmediateExit);
        Assert.Equal(168, (int)KvmCapability.ManualDirtyLogProtect2);
        Assert.Equal(192, (int)KvmCapability.DirtyLogRing);
        Assert.Equal(2u, (uint)KvmExitReason.Io);
        Assert.Equal(5u, (uint)KvmExitReason.Hlt);
        Assert.Equal(6u, (uint)KvmExitReason.Mmio);
        Assert.Equal(8u, (uint)KvmExitReason.Shutdown);
        Assert.Equal(9u, (uint)KvmExitReason.FailEntry);
        Assert.Equal(10u, (uint)KvmExitReason.Intr);
        Assert.Equal(17u, (uint)KvmExitReason.InternalError);
        Assert.Equal(4u, (uint)KvmDeviceType.Vfio);
    }
}
