using System.Runtime.InteropServices;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The block hook as 18 bytes of native x86-64 code, so the check every translation block pays costs a
/// native call instead of a native-to-managed transition (about 3 ns instead of about 10 ns per block on
/// the machines measured; see SoftExitRateTests):
/// <code>
///   ; void hook(uc_engine *uc, uint64_t address, uint32_t size, int *stopRequest)   (SysV: rdi, rsi, edx, rcx)
///   cmp  dword [rcx], 0
///   jne  stop
///   ret
/// stop:
///   mov  rax, uc_emu_stop
///   jmp  rax                  ; tail call uc_emu_stop(uc)
/// </code>
/// The page is written while read-write and then made read-execute (never both). Where that is refused,
/// or on another architecture, <see cref="Pointer"/> is 0 and the managed hook in
/// <see cref="SoftExitHooks"/> does the same job.
/// </summary>
internal static unsafe class NativeBlockHook
{
    private const int ProtExec = 4;

    /// <summary>The hook's entry point, or 0 when the managed hook must be used.</summary>
    public static readonly nint Pointer = Create();

    private static nint Create()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return 0;
        nint page = 0;
        try
        {
            nint stop = NativeLibrary.GetExport(NativeLibrary.Load(UnicornNative.Library), "uc_emu_stop");
            page = Sys.Mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "unicorn block hook");
            byte* code = (byte*)page;
            ReadOnlySpan<byte> head = [0x83, 0x39, 0x00, 0x75, 0x01, 0xC3, 0x48, 0xB8];
            head.CopyTo(new Span<byte>(code, head.Length));
            *(long*)(code + 8) = stop;
            code[16] = 0xFF;
            code[17] = 0xE0;
            if (mprotect((void*)page, 0x1000, PROT_READ | ProtExec) != 0)
            {
                Sys.Munmap(page, 0x1000);
                return 0;
            }
            return page;
        }
        catch (Exception ex) when (ex is SyscallException or DllNotFoundException or EntryPointNotFoundException)
        {
            if (page != 0) Sys.Munmap(page, 0x1000);
            return 0;
        }
    }
}
