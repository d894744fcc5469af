using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Actorvisor.Hardware.Soft.UnicornNative;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The native entry points Unicorn calls on the vCPU thread while uc_emu_start runs: IN/OUT, MMIO,
/// interrupts/exceptions, writes to read-only slots and instruction fetches from non-RAM. Each one
/// recovers its <see cref="SoftVcpu"/> from the user-data GCHandle and hands over; none may let an
/// exception escape into native code (the vCPU catches handler failures and rethrows them from Run).
/// </summary>
internal static unsafe class SoftExitHooks
{
    /// <summary>uc_cb_mmio_read_t.</summary>
    public static readonly delegate* unmanaged<nint, ulong, uint, nint, ulong> MmioRead = &OnMmioRead;

    /// <summary>uc_cb_mmio_write_t.</summary>
    public static readonly delegate* unmanaged<nint, ulong, uint, ulong, nint, void> MmioWrite = &OnMmioWrite;

    /// <summary>Installs the IN, OUT, interrupt, write-protect and fetch-protect hooks on <paramref name="uc"/>.</summary>
    public static void Install(UnicornEngine uc, nint vcpu)
    {
        uc.AddInstructionHook(UC_X86_INS_OUT, (delegate* unmanaged<nint, uint, int, uint, nint, void>)&OnOut, vcpu);
        uc.AddInstructionHook(UC_X86_INS_IN, (delegate* unmanaged<nint, uint, int, nint, uint>)&OnIn, vcpu);
        uc.AddHook(UC_HOOK_INTR, (delegate* unmanaged<nint, uint, nint, void>)&OnInterrupt, vcpu);
        uc.AddHook(UC_HOOK_MEM_WRITE_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&OnWriteProtected, vcpu);
        uc.AddHook(UC_HOOK_MEM_FETCH_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&OnFetchProtected, vcpu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static SoftVcpu Vcpu(nint handle) => Unsafe.As<SoftVcpu>(GCHandle.FromIntPtr(handle).Target!);

    [UnmanagedCallersOnly]
    private static void OnOut(nint uc, uint port, int size, uint value, nint vcpu) => Vcpu(vcpu).PortOut(uc, port, size, value);

    [UnmanagedCallersOnly]
    private static uint OnIn(nint uc, uint port, int size, nint vcpu) => Vcpu(vcpu).PortIn(uc, port, size);

    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint uc, uint number, nint vcpu) => Vcpu(vcpu).Interrupt(uc, number);

    [UnmanagedCallersOnly]
    private static byte OnWriteProtected(nint uc, int type, ulong address, int size, long value, nint vcpu) =>
        Vcpu(vcpu).WriteProtected(uc, address, size, (ulong)value) ? (byte)1 : (byte)0;

    [UnmanagedCallersOnly]
    private static byte OnFetchProtected(nint uc, int type, ulong address, int size, long value, nint vcpu) =>
        Vcpu(vcpu).FetchProtected(uc, address) ? (byte)1 : (byte)0;

    [UnmanagedCallersOnly]
    private static ulong OnMmioRead(nint uc, ulong offset, uint size, nint region)
    {
        if (region == 0) return 0;
        var r = (SoftCpuEngine.MmioRegion*)region;
        return Vcpu(r->Vcpu).MmioRead(uc, r->Base + offset, (int)size);
    }

    [UnmanagedCallersOnly]
    private static void OnMmioWrite(nint uc, ulong offset, uint size, ulong value, nint region)
    {
        if (region == 0) return;
        var r = (SoftCpuEngine.MmioRegion*)region;
        Vcpu(r->Vcpu).MmioWrite(uc, r->Base + offset, (int)size, value);
    }
}
