using System.Diagnostics;
using System.Runtime.InteropServices;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The floor for port-I/O exits on the software accelerator: a bare Unicorn engine running
/// <c>out dx, al; loop</c> with a minimal OUT hook that only counts (no exit handler, no device bus).
/// The benchmark compares <see cref="SoftVcpu"/> plus a device bus against this.
/// </summary>
public static unsafe class SoftRawExitLoop
{
    private const ulong CodeAddress = 0x1000;

    /// <summary>Runs <paramref name="exits"/> OUT exits in one uc_emu_start and returns exits per second.</summary>
    /// <exception cref="InvalidOperationException">the hook did not see exactly <paramref name="exits"/> OUTs.</exception>
    public static double Measure(int exits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exits);
        var page = (byte*)NativeMemory.AlignedAlloc(0x1000, 0x1000);
        var counter = (long*)NativeMemory.Alloc(sizeof(long));
        try
        {
            new Span<byte>(page, 0x1000).Clear();
            // 32-bit flat code: out dx, al; loop -3; hlt
            page[0] = 0xEE; page[1] = 0xE2; page[2] = 0xFD; page[3] = 0xF4;
            *counter = 0;
            using var uc = UnicornEngine.Open(UC_MODE_32);
            uc.MapHostMemory(CodeAddress, 0x1000, UC_PROT_ALL, (nint)page);
            uc.AddInstructionHook(UC_X86_INS_OUT, (delegate* unmanaged<nint, uint, int, uint, nint, void>)&CountOut, (nint)counter);
            uc.DisableUntilAddress();
            uint ecx = (uint)exits;
            Check(uc_reg_write(uc.Uc, UC_X86_REG_ECX, &ecx), "uc_reg_write", "ECX");
            uint edx = 0x80;
            Check(uc_reg_write(uc.Uc, UC_X86_REG_EDX, &edx), "uc_reg_write", "EDX");
            var watch = Stopwatch.StartNew();
            Check(uc.Start(CodeAddress), "uc_emu_start");
            watch.Stop();
            if (*counter != exits) throw new InvalidOperationException($"expected {exits} OUT exits, the hook counted {*counter}");
            return exits / watch.Elapsed.TotalSeconds;
        }
        finally
        {
            NativeMemory.AlignedFree(page);
            NativeMemory.Free(counter);
        }
    }

    [UnmanagedCallersOnly]
    private static void CountOut(nint uc, uint port, int size, uint value, nint counter) => (*(long*)counter)++;
}
