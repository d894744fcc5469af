using System.Runtime.InteropServices;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The two stop hooks as native x86-64 code, so the check every translation block (or, in a precise block, every
/// instruction) pays costs a native call instead of a native-to-managed transition (about 3 ns instead of about
/// 10 ns per call on the machines measured; see SoftExitRateTests). Both take the vCPU's two stop words
/// (<see cref="SoftStopWords"/>) as user data (SysV: rdi = uc, rsi = address, edx = size, rcx = the words).
/// <para>The block hook (every engine; the block's start and size are kept for the fault hooks, see SoftVcpu):</para>
/// <code>
///   mov  [rcx+16], rsi          ; the block entered
///   mov  [rcx+24], edx          ; its size
///   cmp  dword [rcx], 0         ; stop requested?
///   jne  stop
///   ret
/// stop:
///   mov  [rcx+8], rsi           ; stopped before this block
///   mov  rax, uc_emu_stop
///   jmp  rax                    ; tail call uc_emu_stop(uc)
/// </code>
/// <para>The code hook (bounded to the blocks whose lazy-memory accesses must fault precisely), which also opens the interrupt window:</para>
/// <code>
///   cmp  dword [rcx], 0         ; stop requested?
///   jne  stop
///   cmp  dword [rcx+4], 1       ; interrupt window armed?
///   je   arm
///   ret
/// arm:
///   mov  dword [rcx+4], 2       ; fired: the run loop re-enters to deliver the interrupt
///   mov  dword [rcx], 1         ; stop before the next instruction
///   ret
/// stop:
///   mov  [rcx+8], rsi           ; stopped before this instruction
///   mov  rax, uc_emu_stop
///   jmp  rax
/// </code>
/// The page is written while read-write and then made read-execute (never both). Where that is refused, or on another
/// architecture, the pointers are 0 and the managed hooks in <see cref="SoftExitHooks"/> do the same job.
/// </summary>
internal static unsafe class NativeStopHooks
{
    private const int ProtExec = 4;
    private const int CodeHookOffset = 64;

    private static readonly nint Page = Create();

    /// <summary>The block hook's entry point, or 0 when the managed hook must be used.</summary>
    public static nint BlockHook => Page;

    /// <summary>The bounded code hook's entry point, or 0 when the managed hook must be used.</summary>
    public static nint CodeHook => Page == 0 ? 0 : Page + CodeHookOffset;

    private static nint Create()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return 0;
        nint page = 0;
        try
        {
            nint stop = NativeLibrary.GetExport(NativeLibrary.Load(UnicornNative.Library), "uc_emu_stop");
            page = Sys.Mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "unicorn stop hooks");
            var block = new Span<byte>((byte*)page, CodeHookOffset);
            ReadOnlySpan<byte> blockHead =
            [
                0x48, 0x89, 0x71, 0x10,                   // mov [rcx+16], rsi
                0x89, 0x51, 0x18,                         // mov [rcx+24], edx
                0x83, 0x39, 0x00,                         // cmp dword [rcx], 0
                0x75, 0x01,                               // jne stop
                0xC3,                                     // ret
            ];
            blockHead.CopyTo(block);
            RecordStop.CopyTo(block[blockHead.Length..]);
            WriteTailCall(block[(blockHead.Length + RecordStop.Length)..], stop);

            var code = new Span<byte>((byte*)page + CodeHookOffset, 0x100);
            ReadOnlySpan<byte> codeHead =
            [
                0x83, 0x39, 0x00,                         // cmp dword [rcx], 0
                0x75, 0x15,                               // jne stop (+21)
                0x83, 0x79, 0x04, 0x01,                   // cmp dword [rcx+4], 1
                0x74, 0x01,                               // je arm
                0xC3,                                     // ret
                0xC7, 0x41, 0x04, 0x02, 0x00, 0x00, 0x00, // arm: mov dword [rcx+4], 2
                0xC7, 0x01, 0x01, 0x00, 0x00, 0x00,       // mov dword [rcx], 1
                0xC3,                                     // ret
            ];
            codeHead.CopyTo(code);
            RecordStop.CopyTo(code[codeHead.Length..]);
            WriteTailCall(code[(codeHead.Length + RecordStop.Length)..], stop);
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

    /// <summary>mov [rcx+8], rsi: where the hook stopped (<see cref="SoftStopWords.StopAddress"/>).</summary>
    private static ReadOnlySpan<byte> RecordStop => [0x48, 0x89, 0x71, 0x08];

    /// <summary>mov rax, target; jmp rax.</summary>
    private static void WriteTailCall(Span<byte> at, nint target)
    {
        at[0] = 0x48;
        at[1] = 0xB8;
        BitConverter.TryWriteBytes(at[2..10], (long)target);
        at[10] = 0xFF;
        at[11] = 0xE0;
    }
}
