using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The native entry points Unicorn calls on the vCPU thread while uc_emu_start runs: IN/OUT, MMIO,
/// interrupts/exceptions (and the HLT and MSR intercepts), CPUID, accesses to trapped RAM (SPTE faults, see <see cref="SoftMemoryMap"/>) and
/// instruction fetches from non-RAM. Each one
/// recovers its <see cref="SoftVcpu"/> from the user-data GCHandle and hands over; none may let an
/// exception escape into native code (the vCPU catches handler failures and rethrows them from Run).
/// </summary>
internal static unsafe class SoftExitHooks
{
    /// <summary>Engines opened while false use the managed stop hooks (tests of the fallback set it).</summary>
    internal static volatile bool PreferNativeStopHooks = true;

    /// <summary>uc_cb_mmio_read_t.</summary>
    public static readonly delegate* unmanaged<nint, ulong, uint, nint, ulong> MmioRead = &OnMmioRead;

    /// <summary>uc_cb_mmio_write_t.</summary>
    public static readonly delegate* unmanaged<nint, ulong, uint, ulong, nint, void> MmioWrite = &OnMmioWrite;

    /// <summary>
    /// Installs the stop, IN, OUT, interrupt, CPUID and read-, write- and fetch-protect hooks on <paramref name="uc"/>.
    /// <paramref name="stopWords"/> points at the vCPU's <see cref="SoftStopWords"/>; <paramref name="native"/> picks the
    /// native stop hooks (<see cref="NativeStopHooks"/>) over the managed ones.
    /// <para>
    /// The stop hook is a block hook (a stop at the next block start), next to the managed interrupt-window block hook.
    /// Each of <paramref name="preciseBlocks"/> (inclusive guest-virtual ranges) also gets a code hook bounded to it:
    /// an access those instructions make that a fault hook refuses then leaves RIP exactly on the instruction (QEMU
    /// writes RIP before each code-hook call), which a guest-visible "page not present" needs; code outside them runs
    /// at full speed (QEMU emits the call only for instructions inside a hook's range). With any code hook installed,
    /// Unicorn 2.0.1 no longer rewinds RIP to a block's start when it leaves the block at its start check, so a block
    /// entered by a chained direct jump would resume at the previous block's last instruction and run it twice: every
    /// stop hook records where it stopped (<see cref="SoftStopWords.StopAddress"/>) and the run loop puts RIP there
    /// (Soft/README "Stops with code hooks").
    /// </para>
    /// </summary>
    public static void Install(UnicornEngine uc, nint vcpu, nint stopWords, IReadOnlyList<(ulong First, ulong Last)> preciseBlocks, bool native)
    {
        uc.AddHook(UC_HOOK_BLOCK, native && NativeStopHooks.BlockHook != 0 ? (void*)NativeStopHooks.BlockHook : (delegate* unmanaged<nint, ulong, uint, nint, void>)&OnBlock, stopWords);
        uc.AddHook(UC_HOOK_BLOCK, (delegate* unmanaged<nint, ulong, uint, nint, void>)&OnInterruptWindowBlock, vcpu);
        foreach (var (first, last) in preciseBlocks) AddPreciseBlock(uc, stopWords, first, last, native);
        uc.AddInstructionHook(UC_X86_INS_OUT, (delegate* unmanaged<nint, uint, int, uint, nint, void>)&OnOut, vcpu);
        uc.AddInstructionHook(UC_X86_INS_IN, (delegate* unmanaged<nint, uint, int, nint, uint>)&OnIn, vcpu);
        uc.AddHook(UC_HOOK_INTR, (delegate* unmanaged<nint, uint, nint, void>)&OnInterrupt, vcpu);
        uc.AddInstructionHook(UC_X86_INS_CPUID, (delegate* unmanaged<nint, nint, int>)&OnCpuid, vcpu);
        uc.AddHook(UC_HOOK_MEM_READ_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&OnReadProtected, vcpu);
        uc.AddHook(UC_HOOK_MEM_WRITE_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&OnWriteProtected, vcpu);
        uc.AddHook(UC_HOOK_MEM_FETCH_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&OnFetchProtected, vcpu);
    }

    /// <summary>
    /// The precise-fault code hook over the block [<paramref name="first"/>, <paramref name="last"/>] (see
    /// <see cref="Install"/>). QEMU emits hook calls when it translates, so code translated before the hook was added
    /// must be translated again (<see cref="UnicornEngine.RemoveTranslations"/>) before the hook covers it.
    /// </summary>
    public static void AddPreciseBlock(UnicornEngine uc, nint stopWords, ulong first, ulong last, bool native) =>
        uc.AddHook(UC_HOOK_CODE, native && NativeStopHooks.CodeHook != 0 ? (void*)NativeStopHooks.CodeHook : (delegate* unmanaged<nint, ulong, uint, nint, void>)&OnPreciseCode, stopWords, first, last);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static SoftVcpu Vcpu(nint handle) => Unsafe.As<SoftVcpu>(GCHandle.FromIntPtr(handle).Target!);

    /// <summary>
    /// Runs at the start of every translation block, before QEMU's own exit check. The only place the
    /// vCPU stops emulation from (apart from exception hooks, which run between blocks): Unicorn 2.0.1
    /// also checks for an exit request after every memory access and then rewinds RIP to the start of
    /// the block while keeping the side effects of the instructions already executed, so a uc_emu_stop
    /// issued mid-block (from another thread or from an OUT/MMIO hook) makes the guest execute part of a
    /// block twice. Stopping here, before the block runs, rewinds to exactly where it stopped.
    /// Used where <see cref="NativeStopHooks.BlockHook"/> (the same check in native code) is unavailable.
    /// </summary>
    [UnmanagedCallersOnly]
    private static void OnBlock(nint uc, ulong address, uint size, nint stopWords)
    {
        SoftStopWords.RecordBlock(stopWords, address, size);
        if (Volatile.Read(ref *(int*)stopWords) == 0) return;
        SoftStopWords.RecordStop(stopWords, address);
        uc_emu_stop(uc);
    }

    [UnmanagedCallersOnly]
    private static void OnOut(nint uc, uint port, int size, uint value, nint vcpu) => Vcpu(vcpu).PortOut(port, size, value);

    [UnmanagedCallersOnly]
    private static uint OnIn(nint uc, uint port, int size, nint vcpu) => Vcpu(vcpu).PortIn(port, size);

    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint uc, uint number, nint vcpu) => Vcpu(vcpu).Interrupt(uc, number);

    /// <summary>
    /// The bounded code hook where <see cref="NativeStopHooks.CodeHook"/> is unavailable: stops before this
    /// instruction if asked, and arms a stop before the next one when the interrupt window is armed.
    /// </summary>
    [UnmanagedCallersOnly]
    private static void OnPreciseCode(nint uc, ulong address, uint size, nint stopWords)
    {
        int* words = (int*)stopWords;
        if (Volatile.Read(ref words[0]) != 0)
        {
            SoftStopWords.RecordStop(stopWords, address);
            uc_emu_stop(uc);
        }
        else if (Volatile.Read(ref words[1]) == SoftStopWords.WindowArmed)
        {
            Volatile.Write(ref words[1], SoftStopWords.WindowFired);
            Volatile.Write(ref words[0], 1);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnInterruptWindowBlock(nint uc, ulong address, uint size, nint vcpu) => Vcpu(vcpu).InterruptWindowBlock(uc, address);

    [UnmanagedCallersOnly]
    private static int OnCpuid(nint uc, nint vcpu)
    {
        try
        {
            return Vcpu(vcpu).Cpuid(uc);
        }
        catch (UnicornException)
        {
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static byte OnReadProtected(nint uc, int type, ulong address, int size, long value, nint vcpu) =>
        Vcpu(vcpu).ReadProtected(address) ? (byte)1 : (byte)0;

    [UnmanagedCallersOnly]
    private static byte OnWriteProtected(nint uc, int type, ulong address, int size, long value, nint vcpu) =>
        Vcpu(vcpu).WriteProtected(address, size, (ulong)value) ? (byte)1 : (byte)0;

    [UnmanagedCallersOnly]
    private static byte OnFetchProtected(nint uc, int type, ulong address, int size, long value, nint vcpu) =>
        Vcpu(vcpu).FetchProtected(address) ? (byte)1 : (byte)0;

    [UnmanagedCallersOnly]
    private static ulong OnMmioRead(nint uc, ulong offset, uint size, nint region)
    {
        if (region == 0) return 0;
        var r = (SoftCpuEngine.MmioRegion*)region;
        return Vcpu(r->Vcpu).MmioRead(r->Base + offset, (int)size);
    }

    [UnmanagedCallersOnly]
    private static void OnMmioWrite(nint uc, ulong offset, uint size, ulong value, nint region)
    {
        if (region == 0) return;
        var r = (SoftCpuEngine.MmioRegion*)region;
        Vcpu(r->Vcpu).MmioWrite(r->Base + offset, (int)size, value);
    }
}
