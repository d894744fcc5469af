using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// What dirty logging costs a guest on the software accelerator: the same store loop into a slot mapped whole
/// and into a dirty-logged (trapped) slot, where the write hook checks the SPTE and performs every store. Best
/// of three rounds each; prints both rates for information, asserts that every store landed and that the trapped
/// slot logged every page. The rates belong in a bench (proposed keys soft.whole_slot_stores_per_s and
/// soft.trapped_stores_per_s), not in a test a busy machine could fail.
/// </summary>
public sealed class SoftTrappedStoreRateTests(ITestOutputHelper output)
{
    private const ulong DataBase = 0x40_0000;
    private const int Pages = 16, Stores = 1_000_000;

    private static double StoresPerSecond(SoftAccelerator accelerator, MemslotFlags flags)
    {
        using var m = new TestMachine(accelerator);
        var data = m.AllocateExtra(Pages * PageSize.Bytes);
        m.Vm.SetMemoryRegion(Memslot.For(1, DataBase, data, flags));
        m.Load(32, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(__dword_ptr[edi + (uint)DataBase], ecx);
            a.add(edi, 4);
            a.and(edi, (uint)(Pages * PageSize.Bytes - 1));
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            m.EnterProtectedMode(TestMachine.CodeAddress);
            m.Cpu.SetRegisters(m.Cpu.GetRegisters() with { Rcx = Stores, Rdi = 0 });
            var clock = Stopwatch.StartNew();
            Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
            clock.Stop();
            best = Math.Max(best, Stores / clock.Elapsed.TotalSeconds);
            // The last store wrote 1 at the dword before where edi stopped.
            Assert.Equal(1u, data.Read<uint>((Stores - 1) % (Pages * PageSize.Bytes / 4) * 4));
        }
        if (flags.HasFlag(MemslotFlags.LogDirtyPages)) Assert.Equal(Pages, (int)m.Vm.DirtyLog.GetDirtyLog(1).Count());
        return best;
    }

    [Fact]
    public void Stores_into_a_dirty_logged_slot_and_into_one_mapped_whole_all_land()
    {
        using var accelerator = new SoftAccelerator();
        double whole = StoresPerSecond(accelerator, MemslotFlags.None);
        double logged = StoresPerSecond(accelerator, MemslotFlags.LogDirtyPages);
        output.WriteLine($"slot mapped whole:  {whole / 1e6:F1} M stores/s ({1e9 / whole:F1} ns per loop iteration)");
        output.WriteLine($"dirty-logged slot:  {logged / 1e6:F1} M stores/s ({1e9 / logged:F1} ns per loop iteration), {whole / logged:F2}x");
    }
}
