using System.Runtime.CompilerServices;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Unicorn 2.0.1's uc_context for x86: a 16-byte header followed by a byte copy of QEMU 5.0's
/// CPUX86State up to its <c>retaddr</c> field (target/i386/cpu.h). Unicorn's register API cannot set a
/// segment's hidden base/limit/attributes (it writes the selector only), nor QEMU's hflags, so the
/// accelerator transfers KVM-style special registers through this blob instead, at the offsets below.
/// <see cref="UnicornLayoutProbe"/> checks every offset against the loaded library before first use.
/// </summary>
internal static unsafe class UnicornCpuContext
{
    /// <summary>sizeof(struct uc_context) before its data[] (size_t, uc_mode, uc_arch).</summary>
    public const int HeaderSize = 16;

    // CPUX86State, from its start: regs[16], eip, eflags, cc_dst, cc_src, cc_src2, cc_op, df, hflags, hflags2,
    // segs[6], ldt, tr, gdt, idt (SegmentCache: u32 selector, u64 base, u32 limit, u32 flags = 24 bytes), cr[5], ...
    public const int Rax = 0;
    public const int Eip = 128;
    public const int Eflags = 136;
    public const int Hflags = 176;
    public const int Segs = 184;
    public const int Ldt = 328;
    public const int Tr = 352;
    public const int Gdt = 376;
    public const int Idt = 400;
    public const int Cr = 424;
    /// <summary>After a20_mask (int32), bnd_regs[4] and bndcs_regs (16 bytes each) and msr_bndcfgs.</summary>
    public const int Efer = 560;

    // The tail, counted back from the blob's end (offsetof(CPUX86State, retaddr)): error_code, exception_is_int,
    // exception_next_eip, dr[8], cpu_watchpoint[4], old_exception, vm_vmcb, tsc_offset, intercept, ...
    public const int OldExceptionFromEnd = 64;
    public const int InterceptFromEnd = 40;
    public const int VmVmcbFromEnd = 56;
    public const int ExceptionIsIntFromEnd = 172;
    public const int ErrorCodeFromEnd = 176;
    /// <summary>cpu_breakpoint/cpu_watchpoint[4] (host pointers, between dr[8] and old_exception): never carried to another process.</summary>
    public const int WatchpointsFromEnd = 96;
    /// <summary>Bytes of the four watchpoint pointers.</summary>
    public const int WatchpointsBytes = 32;

    // QEMU's SegmentCache order.
    public const int SegEs = 0, SegCs = 1, SegSs = 2, SegDs = 3, SegFs = 4, SegGs = 5;

    // hflags (HF_*_MASK)
    private const uint HfCpl = 3, HfCs32 = 1 << 4, HfSs32 = 1 << 5, HfAddseg = 1 << 6, HfPe = 1 << 7, HfTf = 1 << 8,
        HfMp = 1 << 9, HfEm = 1 << 10, HfTs = 1 << 11, HfIopl = 3 << 12, HfLma = 1 << 14, HfCs64 = 1 << 15,
        HfVm = 1 << 17, HfOsfxsr = 1 << 22, HfSmap = 1 << 23;

    /// <summary>HF_GUEST_MASK: SVM intercepts active. Set so that QEMU checks <c>env->intercept</c> (see <see cref="InterceptHlt"/>).</summary>
    public const uint HfGuest = 1 << 21;

    /// <summary>
    /// env->intercept bit for HLT (SVM_EXIT_HLT - SVM_EXIT_INTR). With it and HF_GUEST set, QEMU's helper_hlt
    /// raises EXCP_VMEXIT + SVM_EXIT_HLT before executing the hlt, which Unicorn hands to UC_HOOK_INTR
    /// as <see cref="HltInterceptVector"/> with RIP still on the hlt. Plain HLT would end uc_emu_start
    /// silently, indistinguishable from uc_emu_stop.
    /// </summary>
    public const ulong InterceptHlt = 1UL << (0x78 - 0x60);

    /// <summary>The UC_HOOK_INTR number of the HLT intercept: EXCP_VMEXIT (0x100) + SVM_EXIT_HLT (0x78).</summary>
    public const uint HltInterceptVector = 0x100 + 0x78;

    // QEMU descriptor flag bits (DESC_*_MASK), the high dword of a descriptor.
    private const uint DescP = 1 << 15, DescS = 1 << 12, DescL = 1 << 21, DescB = 1 << 22, DescG = 1 << 23, DescAvl = 1 << 20;

    public static ulong U64(byte* blob, int offset) => Unsafe.ReadUnaligned<ulong>(blob + offset);
    public static uint U32(byte* blob, int offset) => Unsafe.ReadUnaligned<uint>(blob + offset);
    public static void SetU64(byte* blob, int offset, ulong value) => Unsafe.WriteUnaligned(blob + offset, value);
    public static void SetU32(byte* blob, int offset, uint value) => Unsafe.WriteUnaligned(blob + offset, value);

    /// <summary>The blob (CPUX86State bytes) of a uc_context pointer.</summary>
    public static byte* Blob(nint context) => (byte*)context + HeaderSize;

    /// <summary>Reads the SegmentCache at <paramref name="offset"/> (segs[i], LDT or TR) as a KVM segment.</summary>
    public static Segment ReadSegment(byte* blob, int offset)
    {
        uint flags = U32(blob, offset + 20);
        bool present = (flags & DescP) != 0;
        return new Segment
        {
            Selector = (ushort)U32(blob, offset),
            Base = U64(blob, offset + 8),
            Limit = U32(blob, offset + 16),
            Type = (byte)((flags >> 8) & 15),
            S = (flags & DescS) != 0,
            Dpl = (byte)((flags >> 13) & 3),
            Present = present,
            Avl = (flags & DescAvl) != 0,
            L = (flags & DescL) != 0,
            Db = (flags & DescB) != 0,
            G = (flags & DescG) != 0,
            // QEMU keeps no unusable bit; like QEMU's own KVM glue (target/i386/kvm.c set_seg) and AMD's
            // VMCB, a segment is unusable exactly when it is not present.
            Unusable = !present,
        };
    }

    /// <summary>Writes a KVM segment into the SegmentCache at <paramref name="offset"/> (QEMU's get_seg: unusable means flags 0).</summary>
    public static void WriteSegment(byte* blob, int offset, in Segment s)
    {
        SetU32(blob, offset, s.Selector);
        SetU64(blob, offset + 8, s.Base);
        SetU32(blob, offset + 16, s.Limit);
        SetU32(blob, offset + 20, s.Unusable ? 0 : DescriptorFlags(s));
    }

    /// <summary>The descriptor high-dword attribute bits of <paramref name="s"/>.</summary>
    public static uint DescriptorFlags(in Segment s) =>
        ((uint)(s.Type & 15) << 8) | (s.S ? DescS : 0) | ((uint)(s.Dpl & 3) << 13) | (s.Present ? DescP : 0) |
        (s.Avl ? DescAvl : 0) | (s.L ? DescL : 0) | (s.Db ? DescB : 0) | (s.G ? DescG : 0);

    public static int SegOffset(int index) => Segs + index * 24;

    /// <summary>Reads the KVM-visible special registers (CR8 and APIC base are not part of QEMU's state here).</summary>
    public static SpecialRegisters ReadSpecialRegisters(byte* blob, ulong cr8, ulong apicBase) => new()
    {
        Es = ReadSegment(blob, SegOffset(SegEs)),
        Cs = ReadSegment(blob, SegOffset(SegCs)),
        Ss = ReadSegment(blob, SegOffset(SegSs)),
        Ds = ReadSegment(blob, SegOffset(SegDs)),
        Fs = ReadSegment(blob, SegOffset(SegFs)),
        Gs = ReadSegment(blob, SegOffset(SegGs)),
        Ldt = ReadSegment(blob, Ldt),
        Tr = ReadSegment(blob, Tr),
        Gdt = new DescriptorTable(U64(blob, Gdt + 8), (ushort)U32(blob, Gdt + 16)),
        Idt = new DescriptorTable(U64(blob, Idt + 8), (ushort)U32(blob, Idt + 16)),
        Cr0 = U64(blob, Cr),
        Cr2 = U64(blob, Cr + 16),
        Cr3 = U64(blob, Cr + 24),
        Cr4 = U64(blob, Cr + 32),
        Efer = U64(blob, Efer),
        Cr8 = cr8,
        ApicBase = apicBase,
    };

    /// <summary>Writes segments, descriptor tables, CR0/2/3/4 and EFER (KVM_SET_SREGS minus CR8 and APIC base).</summary>
    public static void WriteSpecialRegisters(byte* blob, SpecialRegisters s)
    {
        WriteSegment(blob, SegOffset(SegEs), s.Es);
        WriteSegment(blob, SegOffset(SegCs), s.Cs);
        WriteSegment(blob, SegOffset(SegSs), s.Ss);
        WriteSegment(blob, SegOffset(SegDs), s.Ds);
        WriteSegment(blob, SegOffset(SegFs), s.Fs);
        WriteSegment(blob, SegOffset(SegGs), s.Gs);
        WriteSegment(blob, Ldt, s.Ldt);
        WriteSegment(blob, Tr, s.Tr);
        SetU64(blob, Gdt + 8, s.Gdt.Base);
        SetU32(blob, Gdt + 16, s.Gdt.Limit);
        SetU64(blob, Idt + 8, s.Idt.Base);
        SetU32(blob, Idt + 16, s.Idt.Limit);
        SetU64(blob, Cr, s.Cr0);
        SetU64(blob, Cr + 16, s.Cr2);
        SetU64(blob, Cr + 24, s.Cr3);
        SetU64(blob, Cr + 32, s.Cr4);
        SetU64(blob, Efer, s.Efer);
    }

    /// <summary>
    /// Recomputes hflags from CR0, CR4, EFER, EFLAGS and the CS/SS/DS/ES caches the way QEMU's
    /// x86_update_hflags does (what QEMU runs after loading KVM state), adds CR4.SMAP, and turns on the
    /// HLT intercept. Run after every state write, since Unicorn's register API never updates hflags.
    /// </summary>
    public static void PrepareForRun(byte* blob, int blobSize)
    {
        ulong cr0 = U64(blob, Cr), cr4 = U64(blob, Cr + 32), efer = U64(blob, Efer), eflags = U64(blob, Eflags);
        uint csFlags = U32(blob, SegOffset(SegCs) + 20), ssFlags = U32(blob, SegOffset(SegSs) + 20);
        const uint recomputed = HfCpl | HfPe | HfMp | HfEm | HfTs | HfTf | HfVm | HfIopl | HfOsfxsr | HfLma | HfCs32 | HfSs32 | HfCs64 | HfAddseg | HfSmap;
        uint h = U32(blob, Hflags) & ~recomputed;
        h |= (ssFlags >> 13) & HfCpl;
        h |= (uint)(cr0 & 1) << 7;
        h |= (uint)(cr0 << 8) & (HfMp | HfEm | HfTs);
        h |= (uint)eflags & (HfTf | HfVm | HfIopl);
        if ((cr4 & (1UL << 9)) != 0) h |= HfOsfxsr;
        if ((cr4 & (1UL << 21)) != 0) h |= HfSmap;
        if ((efer & ControlBits.EferLma) != 0) h |= HfLma;
        if ((h & HfLma) != 0 && (csFlags & DescL) != 0)
        {
            h |= HfCs32 | HfSs32 | HfCs64;
        }
        else
        {
            h |= (csFlags & DescB) >> (22 - 4);
            h |= (ssFlags & DescB) >> (22 - 5);
            if ((cr0 & 1) == 0 || (eflags & (1UL << 17)) != 0 || (h & HfCs32) == 0)
                h |= HfAddseg;
            else if ((U64(blob, SegOffset(SegDs) + 8) | U64(blob, SegOffset(SegEs) + 8) | U64(blob, SegOffset(SegSs) + 8)) != 0)
                h |= HfAddseg;
        }
        SetU32(blob, Hflags, h | HfGuest);
        SetU64(blob, blobSize - InterceptFromEnd, U64(blob, blobSize - InterceptFromEnd) | InterceptHlt | SoftMsrIntercept.InterceptMsr);
        SetU64(blob, blobSize - VmVmcbFromEnd, SoftMsrIntercept.Base);
        ClearExceptionInFlight(blob, blobSize);
    }

    /// <summary>
    /// Forgets the exception QEMU last raised. Unicorn hands exceptions to UC_HOOK_INTR instead of
    /// delivering them, so QEMU never clears old_exception (the next fault would become a #DF) nor
    /// exception_is_int (the next intercept would jump to a stale exception_next_eip).
    /// </summary>
    public static void ClearExceptionInFlight(byte* blob, int blobSize)
    {
        SetU32(blob, blobSize - OldExceptionFromEnd, unchecked((uint)-1));
        SetU32(blob, blobSize - ExceptionIsIntFromEnd, 0);
    }

    /// <summary>HF_INHIBIT_IRQ_MASK: the STI / MOV SS interrupt shadow.</summary>
    private const uint HfInhibitIrq = 1 << 3;

    /// <summary>True while the instruction after STI or MOV SS has not run yet (no external interrupt may be taken).</summary>
    public static bool InterruptShadow(byte* blob) => (U32(blob, Hflags) & HfInhibitIrq) != 0;

    /// <summary>Ends the interrupt shadow (event delivery does).</summary>
    public static void EndInterruptShadow(byte* blob) => SetU32(blob, Hflags, U32(blob, Hflags) & ~HfInhibitIrq);

    /// <summary>The error code QEMU pushed with the last exception.</summary>
    public static uint ErrorCode(byte* blob, int blobSize) => U32(blob, blobSize - ErrorCodeFromEnd);
}
