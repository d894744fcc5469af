using System.Runtime.InteropServices;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Owns one uc_engine and closes it exactly once. Every method is one uc_* call that throws a
/// <see cref="UnicornException"/> naming the function on failure. There is deliberately no Stop: see
/// <see cref="SoftExitHooks"/> for why uc_emu_stop is only called at block starts and between blocks.
/// </summary>
internal sealed unsafe class UnicornEngine : SafeHandle
{
    private UnicornEngine() : base(0, ownsHandle: true) { }

    /// <summary>uc_open(UC_ARCH_X86, <paramref name="mode"/>).</summary>
    public static UnicornEngine Open(int mode)
    {
        var engine = new UnicornEngine();
        Check(uc_open(UC_ARCH_X86, mode, out nint uc), "uc_open", $"UC_ARCH_X86, mode {mode}");
        engine.SetHandle(uc);
        return engine;
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>The raw uc_engine pointer; valid while this handle is open.</summary>
    public nint Uc => IsClosed ? throw new ObjectDisposedException(nameof(UnicornEngine)) : handle;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => uc_close(handle) == UC_ERR_OK;

    /// <summary>uc_mem_map_ptr: maps host memory at <paramref name="hostAddress"/> as guest-physical [gpa, gpa+size). No copy is made.</summary>
    public void MapHostMemory(ulong gpa, ulong size, uint perms, nint hostAddress) =>
        Check(uc_mem_map_ptr(Uc, gpa, (nuint)size, perms, (void*)hostAddress), "uc_mem_map_ptr", $"gpa 0x{gpa:x} size 0x{size:x}");

    /// <summary>uc_mem_protect: also marks the region read-only for the TLB, so guest writes take the slow, hooked path.</summary>
    public void Protect(ulong gpa, ulong size, uint perms) =>
        Check(uc_mem_protect(Uc, gpa, (nuint)size, perms), "uc_mem_protect", $"gpa 0x{gpa:x} size 0x{size:x}");

    /// <summary>Empties QEMU's softmmu TLB (see <see cref="UnicornNative.tcg_flush_softmmu_tlb"/>).</summary>
    public void FlushTlb() => tcg_flush_softmmu_tlb(Uc);

    /// <summary>uc_mem_unmap.</summary>
    public void Unmap(ulong gpa, ulong size) =>
        Check(uc_mem_unmap(Uc, gpa, (nuint)size), "uc_mem_unmap", $"gpa 0x{gpa:x} size 0x{size:x}");

    /// <summary>uc_mmio_map: guest accesses to [gpa, gpa+size) call the callbacks with the offset into the range.</summary>
    public void MapMmio(ulong gpa, ulong size,
        delegate* unmanaged<nint, ulong, uint, nint, ulong> read, delegate* unmanaged<nint, ulong, uint, ulong, nint, void> write, nint userData) =>
        Check(uc_mmio_map(Uc, gpa, (nuint)size, read, userData, write, userData), "uc_mmio_map", $"gpa 0x{gpa:x} size 0x{size:x}");

    /// <summary>uc_hook_add over every address.</summary>
    public nuint AddHook(int type, void* callback, nint userData)
    {
        Check(uc_hook_add(Uc, out nuint hook, type, callback, userData, 1, 0), "uc_hook_add", $"type 0x{type:x}");
        return hook;
    }

    /// <summary>uc_hook_add over the addresses <paramref name="first"/> to <paramref name="last"/> (inclusive).</summary>
    public nuint AddHook(int type, void* callback, nint userData, ulong first, ulong last)
    {
        Check(uc_hook_add(Uc, out nuint hook, type, callback, userData, first, last), "uc_hook_add", $"type 0x{type:x} [0x{first:x}, 0x{last:x}]");
        return hook;
    }

    /// <summary>uc_hook_add(UC_HOOK_INSN, ..., <paramref name="instruction"/>).</summary>
    public nuint AddInstructionHook(int instruction, void* callback, nint userData)
    {
        Check(uc_hook_add_insn(Uc, out nuint hook, UC_HOOK_INSN, callback, userData, 1, 0, instruction), "uc_hook_add", $"UC_HOOK_INSN {instruction}");
        return hook;
    }

    /// <summary>
    /// uc_ctl_exits_enable with an empty exit list: uc_emu_start then ignores its <c>until</c> argument, so
    /// no guest address (0 included) ends emulation by accident; only hooks, HLT and errors do.
    /// </summary>
    public void DisableUntilAddress() => Check(uc_ctl_int(Uc, UC_CTL_WRITE_USE_EXITS, 1), "uc_ctl(UC_CTL_UC_USE_EXITS)");

    /// <summary>
    /// uc_ctl_remove_cache: drops every translated block that overlaps the guest-virtual code [<paramref name="begin"/>,
    /// <paramref name="end"/>), unlinking the jumps chained into them, so the code is translated again the next time it
    /// runs (with the hooks installed since). Unicorn finds the code's physical page with the CPU's current paging
    /// (get_page_addr_code): call it between two uc_emu_start only, for code the CPU just ran, whose page walk cannot fault
    /// (a fault there would leave QEMU outside its CPU loop). A range not backed by RAM is left alone.
    /// </summary>
    public void RemoveTranslations(ulong begin, ulong end) =>
        Check(uc_ctl_range(Uc, UC_CTL_WRITE_TB_REMOVE_CACHE, begin, end), "uc_ctl(UC_CTL_TB_REMOVE_CACHE)", $"[0x{begin:x}, 0x{end:x})");

    /// <summary>uc_emu_start from <paramref name="begin"/> with no until address, timeout or count; returns the raw uc_err.</summary>
    public int Start(ulong begin) => uc_emu_start(Uc, begin, 0, 0, 0);

    /// <summary>uc_reg_read of a 64-bit register.</summary>
    public ulong ReadRegister(int regid)
    {
        ulong value = 0;
        Check(uc_reg_read(Uc, regid, &value), "uc_reg_read", $"register {regid}");
        return value;
    }

    /// <summary>uc_reg_write of a 64-bit register (outside uc_emu_start only: a RIP write inside a hook makes Unicorn 2.0.1 resume).</summary>
    public void WriteRegister(int regid, ulong value) =>
        Check(uc_reg_write(Uc, regid, &value), "uc_reg_write", $"register {regid}");

    /// <summary>uc_reg_read of a uc_x86_mmr register (GDTR, IDTR, LDTR, TR).</summary>
    public X86Mmr ReadMmr(int regid)
    {
        X86Mmr value = default;
        Check(uc_reg_read(Uc, regid, &value), "uc_reg_read", $"register {regid}");
        return value;
    }

    /// <summary>uc_reg_write of a uc_x86_mmr register.</summary>
    public void WriteMmr(int regid, X86Mmr value) =>
        Check(uc_reg_write(Uc, regid, &value), "uc_reg_write", $"register {regid}");

    /// <summary>uc_reg_read_batch of 64-bit registers.</summary>
    public void ReadRegisters(ReadOnlySpan<int> ids, Span<ulong> values)
    {
        void** ptrs = stackalloc void*[ids.Length];
        fixed (int* pids = ids)
        fixed (ulong* pvals = values)
        {
            for (int i = 0; i < ids.Length; i++) ptrs[i] = pvals + i;
            Check(uc_reg_read_batch(Uc, pids, ptrs, ids.Length), "uc_reg_read_batch");
        }
    }

    /// <summary>uc_reg_write_batch of 64-bit registers.</summary>
    public void WriteRegisters(ReadOnlySpan<int> ids, ReadOnlySpan<ulong> values)
    {
        void** ptrs = stackalloc void*[ids.Length];
        fixed (int* pids = ids)
        fixed (ulong* pvals = values)
        {
            for (int i = 0; i < ids.Length; i++) ptrs[i] = pvals + i;
            Check(uc_reg_write_batch(Uc, pids, ptrs, ids.Length), "uc_reg_write_batch");
        }
    }

    /// <summary>uc_context_size: bytes of a uc_context (header plus the CPU state blob).</summary>
    public int ContextSize => checked((int)uc_context_size(Uc));

    /// <summary>uc_context_alloc.</summary>
    public nint AllocContext()
    {
        Check(uc_context_alloc(Uc, out nint context), "uc_context_alloc");
        return context;
    }

    /// <summary>uc_context_save: copies the CPU state into <paramref name="context"/>.</summary>
    public void SaveContext(nint context) => Check(uc_context_save(Uc, context), "uc_context_save");

    /// <summary>uc_context_restore: copies <paramref name="context"/> back into the CPU.</summary>
    public void RestoreContext(nint context) => Check(uc_context_restore(Uc, context), "uc_context_restore");
}
