using System.Runtime.InteropServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using static Actorvisor.Hardware.Soft.UnicornNative;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// The Unicorn 2.0.1 behaviour the software accelerator's write hook is built on (see SoftVcpu.WriteProtected):
/// a UC_HOOK_MEM_WRITE_PROT hook that makes the page writable and returns true does not make Unicorn retry the
/// store. Only a store that missed QEMU's TLB lands (the TLB is filled after the hook, from the new
/// permissions); a store that hit a cached read-only entry is dropped. Hence the hook performs the store itself
/// and never changes permissions. If a Unicorn upgrade changes this, this test says so.
/// </summary>
public sealed unsafe class UnicornWriteProtectRetryTests
{
    private const ulong Page = 0x10_0000;

    [UnmanagedCallersOnly]
    private static byte MakeWritable(nint uc, int type, ulong address, int size, long value, nint hits)
    {
        (*(int*)hits)++;
        return uc_mem_protect(uc, address & ~0xFFFUL, 0x1000, UC_PROT_ALL) == UC_ERR_OK ? (byte)1 : (byte)0;
    }

    private static (uint AfterStore, int Hooks) Run(bool loadFirst)
    {
        using var ram = HostMemory.Allocate(0x20_0000);
        int* hits = (int*)NativeMemory.AllocZeroed(sizeof(int));
        try
        {
            var code = GuestCode.Assemble(64, 0x1000, a =>
            {
                a.mov(edi, (uint)Page);
                if (loadFirst) a.mov(eax, __dword_ptr[rdi]);     // fills QEMU's TLB entry for the page: read-only
                a.mov(__dword_ptr[rdi], 0x1111);                  // write-protect hook makes the page writable
                a.mov(ebx, __dword_ptr[rdi]);
                a.hlt();
            });
            ram.Write(0x1000, code);
            using var uc = UnicornEngine.Open(UC_MODE_64);
            uc.DisableUntilAddress();
            uc.MapHostMemory(0, 0x10_0000, UC_PROT_ALL, ram.Address);
            uc.MapHostMemory(Page, 0x1000, UC_PROT_ALL, ram.Address + (nint)Page);
            uc.Protect(Page, 0x1000, UC_PROT_READ);
            uc.AddHook(UC_HOOK_MEM_WRITE_PROT, (delegate* unmanaged<nint, int, ulong, int, long, nint, byte>)&MakeWritable, (nint)hits);
            uc.AddHook(UC_HOOK_INTR, (delegate* unmanaged<nint, uint, nint, void>)&Stop, 0);
            Check(uc.Start(0x1000), "uc_emu_start");
            return ((uint)uc.ReadRegister(UC_X86_REG_RBX), *hits);
        }
        finally
        {
            NativeMemory.Free(hits);
        }
    }

    [UnmanagedCallersOnly]
    private static void Stop(nint uc, uint number, nint data) => uc_emu_stop(uc);

    [Fact]
    public void AStoreThatMissedQemusTlbLandsAfterTheHookMadeThePageWritable()
    {
        var (after, hooks) = Run(loadFirst: false);
        Assert.Equal(1, hooks);
        Assert.Equal(0x1111u, after);
    }

    [Fact]
    public void AStoreThatHitACachedReadOnlyEntryIsDroppedEvenThoughTheHookMadeThePageWritable()
    {
        var (after, hooks) = Run(loadFirst: true);
        Assert.Equal(1, hooks);
        Assert.Equal(0u, after);
    }
}
