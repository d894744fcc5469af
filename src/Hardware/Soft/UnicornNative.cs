using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The slice of Unicorn 2.0.1's C API (unicorn/unicorn.h, unicorn/x86.h) the software accelerator uses,
/// imported from the Debian package libunicorn2's soname. Constants carry the header's names. Callbacks are
/// passed as <c>delegate* unmanaged</c> pointers to [UnmanagedCallersOnly] methods, so no delegate can be
/// collected under the emulator.
/// </summary>
internal static unsafe partial class UnicornNative
{
    /// <summary>The soname of Debian's libunicorn2 (the unversioned .so only comes with libunicorn-dev).</summary>
    public const string Library = "libunicorn.so.2";

    // uc_arch / uc_mode
    public const int UC_ARCH_X86 = 4;
    public const int UC_MODE_16 = 1 << 1;
    public const int UC_MODE_32 = 1 << 2;
    public const int UC_MODE_64 = 1 << 3;

    // uc_err
    public const int UC_ERR_OK = 0;
    public const int UC_ERR_READ_UNMAPPED = 6;
    public const int UC_ERR_WRITE_UNMAPPED = 7;
    public const int UC_ERR_FETCH_UNMAPPED = 8;
    public const int UC_ERR_INSN_INVALID = 10;
    public const int UC_ERR_MAP = 11;
    public const int UC_ERR_WRITE_PROT = 12;
    public const int UC_ERR_READ_PROT = 13;
    public const int UC_ERR_FETCH_PROT = 14;
    public const int UC_ERR_EXCEPTION = 21;

    // uc_prot
    public const uint UC_PROT_NONE = 0;
    public const uint UC_PROT_READ = 1;
    public const uint UC_PROT_WRITE = 2;
    public const uint UC_PROT_EXEC = 4;
    public const uint UC_PROT_ALL = 7;

    // uc_hook_type
    public const int UC_HOOK_INTR = 1 << 0;
    public const int UC_HOOK_INSN = 1 << 1;
    public const int UC_HOOK_CODE = 1 << 2;
    public const int UC_HOOK_BLOCK = 1 << 3;
    public const int UC_HOOK_MEM_READ_UNMAPPED = 1 << 4;
    public const int UC_HOOK_MEM_WRITE_UNMAPPED = 1 << 5;
    public const int UC_HOOK_MEM_FETCH_UNMAPPED = 1 << 6;
    public const int UC_HOOK_MEM_READ_PROT = 1 << 7;
    public const int UC_HOOK_MEM_WRITE_PROT = 1 << 8;
    public const int UC_HOOK_MEM_FETCH_PROT = 1 << 9;
    public const int UC_HOOK_INSN_INVALID = 1 << 14;

    // uc_mem_type (the first argument-after-uc of memory event callbacks)
    public const int UC_MEM_READ = 16;
    public const int UC_MEM_WRITE = 17;
    public const int UC_MEM_FETCH = 18;
    public const int UC_MEM_READ_UNMAPPED = 19;
    public const int UC_MEM_WRITE_UNMAPPED = 20;
    public const int UC_MEM_FETCH_UNMAPPED = 21;
    public const int UC_MEM_WRITE_PROT = 22;
    public const int UC_MEM_READ_PROT = 23;
    public const int UC_MEM_FETCH_PROT = 24;

    // uc_x86_insn: the instruction ids uc_hook_add(UC_HOOK_INSN) accepts for IN and OUT.
    public const int UC_X86_INS_IN = 218;
    public const int UC_X86_INS_OUT = 500;
    /// <summary>UC_X86_INS_CPUID: its hook returns non-zero to skip the CPU model's CPUID.</summary>
    public const int UC_X86_INS_CPUID = 113;

    // uc_control_type, encoded as UC_CTL(type, nr, rw) = type | nr << 26 | rw << 30.
    private const int UC_CTL_IO_WRITE = 1;
    private const int UC_CTL_UC_USE_EXITS = 4;
    /// <summary>uc_ctl_exits_enable/disable: with exits on and an empty exit list, uc_emu_start ignores <c>until</c>.</summary>
    public const int UC_CTL_WRITE_USE_EXITS = UC_CTL_UC_USE_EXITS | (1 << 26) | (UC_CTL_IO_WRITE << 30);
    private const int UC_CTL_TB_REMOVE_CACHE = 9;
    /// <summary>UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2): drops the translated blocks over a range of guest-virtual code.</summary>
    public const int UC_CTL_WRITE_TB_REMOVE_CACHE = UC_CTL_TB_REMOVE_CACHE | (2 << 26) | (UC_CTL_IO_WRITE << 30);


    // uc_x86_reg
    public const int UC_X86_REG_CS = 11;
    public const int UC_X86_REG_ECX = 22;
    public const int UC_X86_REG_EDX = 24;
    public const int UC_X86_REG_EFLAGS = 25;
    public const int UC_X86_REG_RAX = 35;
    public const int UC_X86_REG_RBP = 36;
    public const int UC_X86_REG_RBX = 37;
    public const int UC_X86_REG_RCX = 38;
    public const int UC_X86_REG_RDI = 39;
    public const int UC_X86_REG_RDX = 40;
    public const int UC_X86_REG_RIP = 41;
    public const int UC_X86_REG_RSI = 43;
    public const int UC_X86_REG_RSP = 44;
    public const int UC_X86_REG_CR0 = 50;
    public const int UC_X86_REG_CR2 = 52;
    public const int UC_X86_REG_CR3 = 53;
    public const int UC_X86_REG_CR4 = 54;
    public const int UC_X86_REG_R8 = 106;
    public const int UC_X86_REG_R9 = 107;
    public const int UC_X86_REG_R10 = 108;
    public const int UC_X86_REG_R11 = 109;
    public const int UC_X86_REG_R12 = 110;
    public const int UC_X86_REG_R13 = 111;
    public const int UC_X86_REG_R14 = 112;
    public const int UC_X86_REG_R15 = 113;
    public const int UC_X86_REG_IDTR = 242;
    public const int UC_X86_REG_GDTR = 243;
    public const int UC_X86_REG_LDTR = 244;
    public const int UC_X86_REG_TR = 245;
    /// <summary>Do not use: Unicorn reads and writes MSRs by running helper_rdmsr/wrmsr, which the MSR intercept (SoftMsrIntercept) would stop.</summary>
    public const int UC_X86_REG_MSR = 248;
    public const int UC_X86_REG_FS_BASE = 250;
    public const int UC_X86_REG_GS_BASE = 251;
    public const int UC_X86_REG_RFLAGS = 253;

    /// <summary>struct uc_x86_mmr: a descriptor-table or system-segment register.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct X86Mmr
    {
        public ushort Selector;
        public ulong Base;
        public uint Limit;
        public uint Flags;
    }

    /// <summary>struct uc_x86_msr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct X86Msr
    {
        public uint Id;
        public ulong Value;
    }

    [LibraryImport(Library)]
    public static partial uint uc_version(uint* major, uint* minor);

    [LibraryImport(Library)]
    public static partial int uc_open(int arch, int mode, out nint uc);

    [LibraryImport(Library)]
    public static partial int uc_close(nint uc);

    [LibraryImport(Library)]
    public static partial byte* uc_strerror(int code);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvSuppressGCTransition)])]
    public static partial int uc_reg_read(nint uc, int regid, void* value);

    [LibraryImport(Library)]
    public static partial int uc_reg_write(nint uc, int regid, void* value);

    [LibraryImport(Library)]
    public static partial int uc_reg_read_batch(nint uc, int* regs, void** vals, int count);

    [LibraryImport(Library)]
    public static partial int uc_reg_write_batch(nint uc, int* regs, void** vals, int count);

    [LibraryImport(Library)]
    public static partial int uc_mem_map_ptr(nint uc, ulong address, nuint size, uint perms, void* ptr);

    [LibraryImport(Library)]
    public static partial int uc_mem_unmap(nint uc, ulong address, nuint size);

    [LibraryImport(Library)]
    public static partial int uc_mem_protect(nint uc, ulong address, nuint size, uint perms);

    [LibraryImport(Library)]
    public static partial int uc_mem_read(nint uc, ulong address, void* bytes, nuint size);

    [LibraryImport(Library)]
    public static partial int uc_mmio_map(nint uc, ulong address, nuint size,
        delegate* unmanaged<nint, ulong, uint, nint, ulong> readCallback, nint userDataRead,
        delegate* unmanaged<nint, ulong, uint, ulong, nint, void> writeCallback, nint userDataWrite);

    [LibraryImport(Library)]
    public static partial int uc_emu_start(nint uc, ulong begin, ulong until, ulong timeout, nuint count);

    /// <summary>Thread-safe in the sense QEMU's cpu_exit is: sets the stop request and asks the CPU loop to exit.</summary>
    [LibraryImport(Library)]
    public static partial int uc_emu_stop(nint uc);

    /// <summary>uc_hook_add for hooks without extra arguments. The C function is variadic.</summary>
    [LibraryImport(Library)]
    public static partial int uc_hook_add(nint uc, out nuint hook, int type, void* callback, nint userData, ulong begin, ulong end);

    /// <summary>
    /// uc_hook_add for UC_HOOK_INSN: the instruction id is the variadic argument. On the SysV x86-64 ABI an
    /// int vararg travels in the next integer register exactly like a fixed parameter, so a fixed
    /// eighth parameter is the same call.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "uc_hook_add")]
    public static partial int uc_hook_add_insn(nint uc, out nuint hook, int type, void* callback, nint userData, ulong begin, ulong end, int instruction);

    [LibraryImport(Library)]
    public static partial int uc_hook_del(nint uc, nuint hook);

    /// <summary>uc_ctl with one int argument (variadic in C; see <see cref="uc_hook_add_insn"/>).</summary>
    [LibraryImport(Library, EntryPoint = "uc_ctl")]
    public static partial int uc_ctl_int(nint uc, int control, int value);

    /// <summary>uc_ctl with two uint64_t arguments (variadic in C; see <see cref="uc_hook_add_insn"/>).</summary>
    [LibraryImport(Library, EntryPoint = "uc_ctl")]
    public static partial int uc_ctl_range(nint uc, int control, ulong begin, ulong end);

    /// <summary>
    /// QEMU's tlb_flush for the engine's CPU (translate-all.c, exported by libunicorn 2.0.1 under its per-target
    /// name): empties the softmmu TLB, so the next access to every page goes through the memory-region checks
    /// (and the UC_HOOK_MEM_*_PROT hooks) again. Unicorn 2.0.1's API has no TLB flush: uc_mem_protect only
    /// flushes when a region's read-only state changes, and uc_ctl_flush_tlb drops every translated block.
    /// </summary>
    public const string FlushTlbExport = "tcg_flush_softmmu_tlb_x86_64";

    [LibraryImport(Library, EntryPoint = FlushTlbExport)]
    public static partial void tcg_flush_softmmu_tlb(nint uc);

    [LibraryImport(Library)]
    public static partial int uc_context_alloc(nint uc, out nint context);

    [LibraryImport(Library)]
    public static partial int uc_context_save(nint uc, nint context);

    [LibraryImport(Library)]
    public static partial int uc_context_restore(nint uc, nint context);

    [LibraryImport(Library)]
    public static partial nuint uc_context_size(nint uc);

    [LibraryImport(Library)]
    public static partial int uc_context_free(nint context);

    /// <summary>uc_strerror as a managed string.</summary>
    public static string StrError(int code) => Marshal.PtrToStringUTF8((nint)uc_strerror(code)) ?? $"uc_err {code}";

    /// <summary>Throws <see cref="UnicornException"/> naming <paramref name="call"/> unless <paramref name="code"/> is UC_ERR_OK.</summary>
    public static void Check(int code, string call, string? detail = null)
    {
        if (code != UC_ERR_OK) throw new UnicornException(call, code, detail);
    }
}
