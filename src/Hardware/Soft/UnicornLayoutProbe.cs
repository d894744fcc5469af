using System.Runtime.InteropServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;
using static Actorvisor.Hardware.Soft.UnicornNative;
using C = Actorvisor.Hardware.Soft.UnicornCpuContext;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Checks, once per process, that the loaded libunicorn keeps its x86 CPU state where
/// <see cref="UnicornCpuContext"/> expects it: values written through Unicorn's register API must show up at
/// the expected context offsets, and three tiny guests (INT 21h, a divide error, HLT) must leave their
/// traces in the exception fields and trip the HLT intercept. A different build fails loudly here
/// instead of corrupting guest state later.
/// </summary>
internal static unsafe class UnicornLayoutProbe
{
    private static readonly Lazy<string?> Mismatch = new(Probe);

    /// <summary>Throws <see cref="NotSupportedException"/> if the layout check failed.</summary>
    public static void EnsureCompatible(uint version)
    {
        if (Mismatch.Value is { } what)
            throw new NotSupportedException(
                $"{Library} (uc_version 0x{version:x}) does not match the Unicorn 2.0.1 x86 CPU state the software accelerator drives: {what}. Install Debian's libunicorn2 2.0.1.");
    }

    private static string? Probe()
    {
        using var ram = HostMemory.Allocate(0x10000, name: "unicorn-probe");
        using var uc = UnicornEngine.Open(UC_MODE_64);
        uint* seen = (uint*)NativeMemory.Alloc(4);
        nint context = 0;
        try
        {
            uc.DisableUntilAddress();
            uc.MapHostMemory(0, ram.Size, UC_PROT_ALL, ram.Address);
            uc.AddHook(UC_HOOK_INTR, (delegate* unmanaged<nint, uint, nint, void>)&OnInterrupt, (nint)seen);
            context = uc.AllocContext();
            int size = uc.ContextSize - C.HeaderSize;
            byte* blob = C.Blob(context);

            uc.WriteRegister(UC_X86_REG_RAX, 0x1111_2222_3333_4444);
            uc.WriteRegister(UC_X86_REG_RIP, 0xABCDEF);
            uc.WriteRegister(UC_X86_REG_CR3, 0x7777_7000);
            uc.WriteRegister(UC_X86_REG_FS_BASE, 0xFEED_0000);
            uc.WriteMmr(UC_X86_REG_TR, new X86Mmr { Selector = 0x28, Base = 0x12_3456_789A, Limit = 0xFFF, Flags = 0x8B00 });
            uc.WriteMmr(UC_X86_REG_GDTR, new X86Mmr { Base = 0x55_AA00, Limit = 0x3FF });
            uc.WriteMmr(UC_X86_REG_IDTR, new X86Mmr { Base = 0x66_BB00, Limit = 0x7FF });
            uc.SaveContext(context);
            if (C.U64(blob, C.Rax) != 0x1111_2222_3333_4444) return "RAX is not at offset 0";
            if (C.U64(blob, C.Eip) != 0xABCDEF) return $"RIP is not at offset {C.Eip}";
            if (C.U64(blob, C.Cr + 24) != 0x7777_7000) return "CR3 is not at cr[3]";
            if (C.U64(blob, C.SegOffset(C.SegFs) + 8) != 0xFEED_0000) return "FS base is not in segs[R_FS]";
            var tr = C.ReadSegment(blob, C.Tr);
            if (tr.Selector != 0x28 || tr.Base != 0x12_3456_789A || tr.Limit != 0xFFF || C.U32(blob, C.Tr + 20) != 0x8B00) return "TR cache is not where expected";
            if (C.U64(blob, C.Gdt + 8) != 0x55_AA00 || C.U32(blob, C.Gdt + 16) != 0x3FF) return "GDTR is not where expected";
            if (C.U64(blob, C.Idt + 8) != 0x66_BB00 || C.U32(blob, C.Idt + 16) != 0x7FF) return "IDTR is not where expected";
            if (C.U64(blob, C.Efer) != (ControlBits.EferLma | ControlBits.EferLme)) return "EFER (LMA|LME after a 64-bit reset) is not where expected";
            if ((C.U32(blob, C.Hflags) & (1u << 14 | 1u << 15)) != (1u << 14 | 1u << 15)) return "hflags (LMA|CS64 after a 64-bit reset) is not where expected";
            if ((int)C.U32(blob, size - C.OldExceptionFromEnd) != -1) return "old_exception (-1 after reset) is not where expected";

            // Real mode, CS base 0, no IDT limit check needed: Unicorn reports the exceptions to the hook.
            var realMode = new SpecialRegisters
            {
                Cs = Segment.RealMode(0, code: true), Ds = Segment.RealMode(0, false), Es = Segment.RealMode(0, false),
                Fs = Segment.RealMode(0, false), Gs = Segment.RealMode(0, false), Ss = Segment.RealMode(0, false),
                Tr = new Segment { Limit = 0xFFFF, Type = 0xB, Present = true },
                Ldt = new Segment { Limit = 0xFFFF, Type = 2, Present = true },
                Idt = new DescriptorTable(0, 0x3FF), Gdt = new DescriptorTable(0, 0xFFFF), Cr0 = 0x10,
            };
            uc.WriteRegister(UC_X86_REG_RFLAGS, Registers.ResetRflags);
            uc.SaveContext(context);
            C.WriteSpecialRegisters(blob, realMode);
            C.PrepareForRun(blob, size);
            uc.RestoreContext(context);

            ram.Write(0x1000, [0xCD, 0x21]);              // int 21h
            ram.Write(0x1100, [0x31, 0xC9, 0xF7, 0xF1]);  // xor cx, cx; div cx
            ram.Write(0x1200, [0xF4]);                    // hlt
            if (Run(uc, seen, 0x1000) is { } e1) return e1;
            if (*seen != 0x21) return $"INT 21h reached the hook as 0x{*seen:x}";
            uc.SaveContext(context);
            if (C.U32(blob, size - C.ExceptionIsIntFromEnd) != 1) return "exception_is_int is not where expected";
            C.ClearExceptionInFlight(blob, size);
            uc.RestoreContext(context);
            if (Run(uc, seen, 0x1100) is { } e2) return e2;
            if (*seen != 0) return $"a divide error reached the hook as 0x{*seen:x}";
            uc.SaveContext(context);
            if (C.U32(blob, size - C.OldExceptionFromEnd) != 0) return "old_exception is not where expected";
            C.ClearExceptionInFlight(blob, size);
            uc.RestoreContext(context);
            if (Run(uc, seen, 0x1200) is { } e3) return e3;
            if (*seen != C.HltInterceptVector) return $"HLT was not intercepted (hook saw 0x{*seen:x}): env->intercept is not where expected";
            if (uc.ReadRegister(UC_X86_REG_RIP) != 0x1200) return "the HLT intercept did not stop on the hlt";
            return null;
        }
        catch (UnicornException ex)
        {
            return ex.Message;
        }
        finally
        {
            if (context != 0) uc_context_free(context);
            NativeMemory.Free(seen);
        }
    }

    private static string? Run(UnicornEngine uc, uint* seen, ulong rip)
    {
        *seen = uint.MaxValue;
        int error = uc.Start(rip);
        return error == UC_ERR_OK ? null : $"probe guest at 0x{rip:x} failed: {StrError(error)}";
    }

    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint uc, uint number, nint seen)
    {
        *(uint*)seen = number;
        uc_emu_stop(uc);
    }
}
