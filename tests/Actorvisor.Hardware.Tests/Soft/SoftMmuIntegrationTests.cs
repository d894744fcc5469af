using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// The software accelerator maps guest RAM only as the SPTEs of its <see cref="SoftMmu"/> allow: real guests,
/// real Unicorn engines, the MMU's SPTEs and counters inspected from outside.
/// </summary>
public sealed class SoftMmuIntegrationTests : IDisposable
{
    private const ulong DataBase = 0x40_0000;
    private const uint Flag = 0x9000, Heartbeat = 0x9004;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose() => _accelerator.Dispose();

    private sealed class Rig : IDisposable
    {
        public Rig(SoftAccelerator accelerator, ulong dataPages, MemslotFlags flags)
        {
            Machine = new TestMachine(accelerator);
            Data = Machine.AllocateExtra(dataPages * PageSize.Bytes);
            Vm.SetMemoryRegion(Memslot.For(1, DataBase, Data, flags));
        }

        public TestMachine Machine { get; }
        public HostMemory Data { get; }
        public SoftVm Vm => (SoftVm)Machine.Vm;
        public SoftMmu Mmu => Vm.Mmu;
        public SoftVcpu Cpu => (SoftVcpu)Machine.Cpu;
        public SpteTable Table => Mmu.TableOf(1)!;
        public Spte Spte(ulong page) => Table.Read(page);
        public SoftMemoryMap.SlotMapping DataMapping => Cpu.MemoryMap!.Slots.Single(s => s.Slot.Slot == 1);

        public Task<VcpuExit> RunInBackground(IExitHandler handler) =>
            Task.Factory.StartNew(() => Machine.Cpu.Run(handler), TaskCreationOptions.LongRunning);

        /// <summary>Waits until the guest has bumped its heartbeat twice more (it is running its loop).</summary>
        public void AwaitProgress()
        {
            uint before = Machine.Ram.Read<uint>(Heartbeat);
            Assert.True(SpinWait.SpinUntil(() => Machine.Ram.Read<uint>(Heartbeat) - before >= 2, Patience), "the guest made no progress");
        }

        public void Dispose() => Machine.Dispose();
    }

    private static ulong Page(ulong page, ulong offset = 0) => DataBase + page * PageSize.Bytes + offset;

    /// <summary>32-bit guest: runs <paramref name="body"/> in a loop, bumping the heartbeat, until the flag is set; then hlt.</summary>
    private static void LoadLoop(TestMachine m, Action<Iced.Intel.Assembler> body) => m.Load(32, a =>
    {
        var loop = a.CreateLabel();
        a.Label(ref loop);
        body(a);
        a.inc(__dword_ptr[Heartbeat]);
        a.cmp(__dword_ptr[Flag], 0);
        a.je(loop);
        a.hlt();
    });

    private static void Finish(Rig rig, Task<VcpuExit> run)
    {
        rig.Machine.Ram.Write<uint>(Flag, 1);
        Assert.True(run.Wait(Patience), "the guest did not finish");
        Assert.Equal(VcpuExit.Halted, run.Result);
    }

    [Fact]
    public void AMissingSpteFaultsAndIsInstalledOnlyForThePagesTheGuestTouches()
    {
        using var rig = new Rig(_accelerator, 8, MemslotFlags.LogDirtyPages);
        rig.Data.Write<uint>(2 * PageSize.Bytes, 0x1234_5678);
        rig.Machine.Load(32, a =>
        {
            a.mov(eax, __dword_ptr[(uint)Page(2)]);
            a.mov(__dword_ptr[(uint)Page(5, 0x40)], eax);
            a.hlt();
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);

        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(new RecordingExitHandler()));

        Assert.True(rig.Spte(2).IsPresent && !rig.Spte(2).IsWritable, rig.Spte(2).ToString());
        Assert.True(rig.Spte(5).IsWritable && rig.Spte(5).IsDirty, rig.Spte(5).ToString());
        foreach (ulong p in new ulong[] { 0, 1, 3, 4, 6, 7 }) Assert.True(rig.Spte(p).IsEmpty, $"page {p}: {rig.Spte(p)}");
        Assert.Equal(0x1234_5678u, rig.Data.Read<uint>(5 * PageSize.Bytes + 0x40));
        Assert.False(rig.DataMapping.IsWhole);   // a slot that logs stays page-granular
        Assert.True(rig.Mmu.Counters.SlowPathFaults >= 2);
    }

    [Fact]
    public void ASlotThatDoesNotLogIsMappedWholeAfterItsFirstFault()
    {
        using var rig = new Rig(_accelerator, 16, MemslotFlags.None);
        rig.Machine.Load(32, a =>
        {
            a.mov(__dword_ptr[(uint)Page(3)], 0xAB);
            var after = a.CreateLabel();
            a.jmp(after);
            a.Label(ref after);
            a.mov(__dword_ptr[(uint)Page(9)], 0xCD);
            a.hlt();
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);

        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(new RecordingExitHandler()));

        Assert.True(rig.DataMapping.IsWhole);
        for (ulong p = 0; p < 16; p++) Assert.True(rig.Spte(p).IsWritable && rig.Spte(p).IsExecutable, $"page {p}: {rig.Spte(p)}");
        Assert.True(rig.Mmu.Counters.WholeSlotInstalls >= 2);   // the code slot and the data slot
        Assert.Equal(0xABu, rig.Data.Read<uint>(3 * PageSize.Bytes));
        Assert.Equal(0xCDu, rig.Data.Read<uint>(9 * PageSize.Bytes));
    }

    /// <summary>Pages of a slot above the inline limit: its SPTEs are installed on a thread-pool thread.</summary>
    private const ulong LargeSlotPages = SoftMemoryMap.InlineInstallBytes / PageSize.Bytes * 2;

    /// <summary>Ends the translation block here (a jump to the next instruction): a stop requested in it is taken at the next one.</summary>
    private static void EndBlock(Iced.Intel.Assembler a)
    {
        var next = a.CreateLabel();
        a.jmp(next);
        a.Label(ref next);
    }

    /// <summary>
    /// A rig with a large data slot whose guest stops at port 0x70, then stores to page 3 (the fault that asks for the
    /// whole slot; the install starts at the next block start) and runs <paramref name="rest"/>; run to its first stop.
    /// </summary>
    private Rig LargeSlotGuestAtFirstStop(Action<Iced.Intel.Assembler> rest, RecordingExitHandler handler)
    {
        var rig = new Rig(_accelerator, LargeSlotPages, MemslotFlags.None);
        rig.Machine.Load(32, a =>
        {
            a.@out(0x70, al);
            EndBlock(a);
            a.mov(__dword_ptr[(uint)Page(3)], 0xAB);
            EndBlock(a);
            rest(a);
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        return rig;
    }

    [Fact]
    public void ALargeSlotsSptesAreInstalledOffTheVcpuThreadWhileTheGuestGoesOnTrapped()
    {
        var handler = new RecordingExitHandler { StopPorts = { 0x70, 0x71 } };
        using var rig = LargeSlotGuestAtFirstStop(a =>
        {
            a.mov(__dword_ptr[(uint)Page(LargeSlotPages - 1)], 0xCD);
            a.@out(0x71, al);
            EndBlock(a);
            a.mov(__dword_ptr[(uint)Page(7)], 0xEF);
            a.hlt();
        }, handler);
        // The install is held at the test's gate once done.
        using var gate = new ManualResetEventSlim();
        var map = rig.Cpu.MemoryMap!;
        map.InstallFinishingForTest = gate.Wait;
        long upgrades = map.Upgrades;   // the code slot's (small: mapped whole on the vCPU thread)

        // The guest went on past its first store without waiting for the install: the slot is still trapped.
        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        Assert.False(rig.DataMapping.IsWhole);
        Assert.False(rig.DataMapping.Install is null or { IsCompleted: true });
        Assert.Equal(upgrades, map.Upgrades);

        gate.Set();
        Assert.True(SpinWait.SpinUntil(() => map.InstallFinished, Patience), "the install did not finish");
        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(handler));
        Assert.True(rig.DataMapping.IsWhole);
        Assert.Equal(upgrades + 1, map.Upgrades);
        for (ulong p = 0; p < LargeSlotPages; p++)
        {
            if (!rig.Spte(p).IsWritable) Assert.Fail($"page {p}: {rig.Spte(p)}");
        }
        Assert.Equal(0xABu, rig.Data.Read<uint>(3 * PageSize.Bytes));
        Assert.Equal(0xCDu, rig.Data.Read<uint>((LargeSlotPages - 1) * PageSize.Bytes));
        Assert.Equal(0xEFu, rig.Data.Read<uint>(7 * PageSize.Bytes));
    }

    [Fact]
    public void ALargeSlotIsNotMappedWholeWhenItLostAPermissionAfterItsSptesWereInstalled()
    {
        var handler = new RecordingExitHandler { StopPorts = { 0x70, 0x71, 0x72 } };
        using var rig = LargeSlotGuestAtFirstStop(a =>
        {
            a.@out(0x71, al);
            EndBlock(a);
            a.@out(0x72, al);
            EndBlock(a);
            a.mov(__dword_ptr[(uint)Page(0)], 0x11);       // must fault: page 0 was write-protected
            a.hlt();
        }, handler);
        using var installed = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var map = rig.Cpu.MemoryMap!;
        map.InstallFinishingForTest = () =>
        {
            installed.Set();
            gate.Wait();
        };
        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        Assert.True(installed.Wait(Patience), "the install did not run");
        Assert.True(rig.Spte(0).IsWritable);

        // Every SPTE is in, the vCPU not yet told; a write-protect now, and the vCPU applies its flush while still trapped.
        rig.Mmu.WriteProtect(new GfnRange(DataBase >> PageSize.Shift, 1), WriteProtectReason.DirtyLog);
        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        Assert.False(rig.Spte(0).IsWritable);
        gate.Set();
        Assert.True(SpinWait.SpinUntil(() => map.InstallFinished, Patience), "the install did not finish");

        // Mapped whole from the old install, the guest's store would go straight to memory, past the write-protected SPTE.
        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(handler));
        Assert.True(rig.Spte(0) is { IsWritable: true, IsDirty: true }, rig.Spte(0).ToString());
        Assert.Equal(0x11u, rig.Data.Read<uint>(0));
    }

    [Fact]
    public void AWriteToAWriteProtectedSpteFaultsAndIsFixedOnTheFastPath()
    {
        using var rig = new Rig(_accelerator, 4, MemslotFlags.LogDirtyPages);
        rig.Machine.Load(32, a =>
        {
            a.mov(__dword_ptr[(uint)Page(1)], 1);
            a.@out(0x70, al);
            var after = a.CreateLabel();
            a.jmp(after);
            a.Label(ref after);
            a.mov(__dword_ptr[(uint)Page(1)], 2);
            a.hlt();
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x70 } };

        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        Assert.Equal([1UL], rig.Mmu.GetDirtyLog(1).SetPages());
        Assert.False(rig.Spte(1).IsWritable);
        long fastBefore = rig.Mmu.Counters.FastPathFixes;

        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(handler));
        Assert.Equal(fastBefore + 1, rig.Mmu.Counters.FastPathFixes);
        Assert.True(rig.Spte(1).IsWritable && rig.Spte(1).IsDirty);
        Assert.Equal(2u, rig.Data.Read<uint>(PageSize.Bytes));
        Assert.Equal([1UL], rig.Mmu.GetDirtyLog(1).SetPages());
    }

    [Fact]
    public void ATlbFlushStopsTheVcpuWhichDropsItsWholeMappingAndFaultsBackWithoutLeavingRun()
    {
        using var rig = new Rig(_accelerator, 4, MemslotFlags.None);
        LoadLoop(rig.Machine, a => a.inc(__dword_ptr[(uint)Page(0)]));
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var run = rig.RunInBackground(new RecordingExitHandler());
        rig.AwaitProgress();
        Assert.True(SpinWait.SpinUntil(() => rig.Cpu.MemoryMap is { } map && map.Slots.Single(s => s.Slot.Slot == 1).IsWhole, Patience));
        var map = rig.Cpu.MemoryMap!;
        long downgrades = map.Downgrades, upgrades = map.Upgrades, flushes = map.Flushes;

        // Writable -> read-only: returns only once the vCPU has left the guest (it re-applies at entry).
        rig.Mmu.WriteProtect(new GfnRange(DataBase >> PageSize.Shift, 4), WriteProtectReason.DirtyLog);

        Assert.False(run.IsCompleted);
        // The flush reached the vCPU, which dropped the whole mapping; the guest's next write faulted (fast
        // path: Host- and MMU-writable) and the slot was mapped whole again.
        Assert.True(SpinWait.SpinUntil(() => map.Downgrades > downgrades && map.Upgrades > upgrades && rig.Spte(0).IsWritable, Patience),
            $"downgrades {map.Downgrades}, upgrades {map.Upgrades}, spte {rig.Spte(0)}");
        Assert.True(map.Flushes > flushes);
        rig.AwaitProgress();
        Finish(rig, run);
        Assert.Equal(rig.Machine.Ram.Read<uint>(Heartbeat), rig.Data.Read<uint>(0));
    }

    [Fact]
    public void AZappedPageTheGuestOnlyReadsFaultsAgainBecauseTheFlushEmptiesQemusTlb()
    {
        using var rig = new Rig(_accelerator, 8, MemslotFlags.LogDirtyPages);
        LoadLoop(rig.Machine, a => a.mov(eax, __dword_ptr[(uint)Page(4)]));
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var run = rig.RunInBackground(new RecordingExitHandler());
        rig.AwaitProgress();
        Assert.True(rig.Spte(4).IsPresent);

        rig.Mmu.Zap(new GfnRange((DataBase >> PageSize.Shift) + 4, 1));

        // Read-only to absent leaves Unicorn's region permissions as they were; only the TLB flush makes
        // QEMU check the page again, and the read faults the SPTE back in.
        Assert.True(SpinWait.SpinUntil(() => rig.Spte(4).IsPresent, Patience), "the guest kept reading the zapped page without a fault");
        Finish(rig, run);
    }

    [Fact]
    public void AnAgedPageComesBackYoungOnTheGuestsNextAccess()
    {
        using var rig = new Rig(_accelerator, 8, MemslotFlags.LogDirtyPages);
        LoadLoop(rig.Machine, a => a.mov(eax, __dword_ptr[(uint)Page(6)]));
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var run = rig.RunInBackground(new RecordingExitHandler());
        rig.AwaitProgress();
        long fast = rig.Mmu.Counters.FastPathFixes;

        var young = rig.Mmu.AgePages(new GfnRange(DataBase >> PageSize.Shift, 8));

        Assert.Contains((DataBase >> PageSize.Shift) + 6, young);
        Assert.True(SpinWait.SpinUntil(() => rig.Spte(6) is { IsPresent: true, IsAccessed: true }, Patience), rig.Spte(6).ToString());
        Assert.True(rig.Mmu.Counters.FastPathFixes > fast);   // restored without mmu_lock
        Finish(rig, run);
    }

    [Fact]
    public void AFlushRequestedDuringASlowPathFaultIsAppliedInsideTheHookBeforeTheGuestGoesOn()
    {
        using var rig = new Rig(_accelerator, 4, MemslotFlags.LogDirtyPages);
        var other = rig.Machine.AllocateExtra(PageSize.Bytes);
        const ulong OtherBase = 0x50_0000;
        rig.Vm.SetMemoryRegion(Memslot.For(2, OtherBase, other));
        rig.Machine.Load(32, a =>
        {
            a.mov(__dword_ptr[(uint)OtherBase], 1);        // maps slot 2 whole, at the next block start
            var mapped = a.CreateLabel();
            a.jmp(mapped);
            a.Label(ref mapped);
            a.@out(0x70, al);
            var after = a.CreateLabel();
            a.jmp(after);
            a.Label(ref after);
            a.mov(__dword_ptr[(uint)Page(0)], 2);          // missing SPTE: slow path, in the write hook
            a.mov(__dword_ptr[(uint)OtherBase + 4], 3);    // same block: must fault, slot 2 was write-protected
            a.hlt();
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x70 } };
        Assert.IsType<VcpuExit.PortIo>(rig.Machine.Cpu.Run(handler));
        var map = rig.Cpu.MemoryMap!;
        Assert.True(map.Slots.Single(s => s.Slot.Slot == 2).IsWhole);
        long downgradesInHook = -1;
        var otherGfns = new GfnRange(OtherBase >> PageSize.Shift, 1);
        rig.Cpu.SlowFaultResolvedForTest = _ =>
        {
            rig.Cpu.SlowFaultResolvedForTest = null;
            // Outside guest mode, no lock held: this vCPU counts as having acknowledged at once.
            rig.Mmu.WriteProtect(otherGfns, WriteProtectReason.DirtyLog);
            downgradesInHook = map.Downgrades;
        };
        long fast = rig.Mmu.Counters.FastPathFixes;

        Assert.Equal(VcpuExit.Halted, rig.Machine.Cpu.Run(handler));

        Assert.Equal(0, downgradesInHook);                 // not applied before re-entering guest mode...
        Assert.Equal(1, map.Downgrades);                   // ...but on re-entry, inside the hook
        Assert.True(rig.Mmu.Counters.FastPathFixes > fast); // so the write to slot 2 faulted again
        Assert.Equal(2u, rig.Data.Read<uint>(0));
        Assert.Equal(1u, other.Read<uint>(0));
        Assert.Equal(3u, other.Read<uint>(4));
        Assert.True(rig.Mmu.ReadSpte(OtherBase).IsWritable);
    }

    [Fact]
    public void DeletingASlotZapsItsSptesBeforeDeleteMemoryRegionReturns()
    {
        using var rig = new Rig(_accelerator, 8, MemslotFlags.None);
        LoadLoop(rig.Machine, a => a.mov(eax, __dword_ptr[(uint)Page(7)]));
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);
        var run = rig.RunInBackground(new RecordingExitHandler());
        rig.AwaitProgress();
        var table = rig.Table;
        Assert.True(table.Read(7).IsPresent);
        long zapped = rig.Mmu.Counters.ZappedSptes;

        rig.Vm.DeleteMemoryRegion(1);

        Assert.True(table.IsRetired);
        for (ulong p = 0; p < table.Pages; p++) Assert.True(table.Read(p).IsEmpty, $"page {p}: {table.Read(p)}");
        Assert.True(rig.Mmu.Counters.ZappedSptes >= zapped + 8);   // the slot was mapped whole: all 8 were present
        Assert.Null(rig.Mmu.TableOf(1));
        rig.Data.Dispose();                                          // nothing may touch it any more
        rig.AwaitProgress();                                         // the guest reads MMIO now
        Finish(rig, run);
    }

    [Fact]
    public void StoresOfEverySizeAndAlignmentReachTrappedMemoryExactlyOnce()
    {
        using var rig = new Rig(_accelerator, 8, MemslotFlags.LogDirtyPages);
        var m = rig.Machine;
        m.Load(64, a =>
        {
            a.mov(rdi, DataBase);
            a.mov(__byte_ptr[rdi + 0x10], 0x11);
            a.mov(__word_ptr[rdi + 0x20], 0x2222);
            a.mov(__dword_ptr[rdi + 0x30], 0x3333_3333);
            a.mov(rax, 0x4444_4444_4444_4444);
            a.mov(__qword_ptr[rdi + 0x40], rax);
            a.mov(__dword_ptr[rdi + 0xFFE], 0x5566_7788);             // crosses from page 0 into page 1
            a.mov(rax, 0x0102_0304_0506_0708);
            a.mov(__qword_ptr[rdi + 0x1003], rax);                   // unaligned within page 1
            a.movq(xmm0, rax);
            a.movdqu(__xmmword_ptr[rdi + 0x2008], xmm0);             // 16 bytes, unaligned
            a.lea(rsp, __qword_ptr[rdi + 0x3100]);
            a.push(0x77);
            a.push(rax);
            a.pop(rbx);
            a.lea(rdi, __qword_ptr[rdi + 0x4000]);
            a.mov(ecx, 100);
            a.mov(eax, 0xABCD_1234);
            a.rep.stosd();
            a.mov(rdi, DataBase + 0x5000);
            a.mov(__dword_ptr[rdi], 5);
            a.mov(eax, 7);
            a.@lock.xadd(__dword_ptr[rdi], eax);                      // [rdi] = 12, eax = 5
            a.mov(edx, eax);
            a.mov(eax, 12);
            a.mov(r8d, 99);
            a.@lock.cmpxchg(__dword_ptr[rdi], r8d);                   // [rdi] = 99
            a.hlt();
        });
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Cr4 = ControlBits.Cr4Pae | 0x600 });   // OSFXSR, OSXMMEXCPT

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));

        var expected = new byte[8 * PageSize.Bytes];
        void Put(int at, ulong value, int size) => BitConverter.GetBytes(value).AsSpan(0, size).CopyTo(expected.AsSpan(at));
        Put(0x10, 0x11, 1);
        Put(0x20, 0x2222, 2);
        Put(0x30, 0x3333_3333, 4);
        Put(0x40, 0x4444_4444_4444_4444, 8);
        Put(0xFFE, 0x5566_7788, 4);
        Put(0x1003, 0x0102_0304_0506_0708, 8);
        Put(0x2008, 0x0102_0304_0506_0708, 8);
        Put(0x30F8, 0x77, 8);
        Put(0x30F0, 0x0102_0304_0506_0708, 8);
        for (int i = 0; i < 100; i++) Put(0x4000 + i * 4, 0xABCD_1234, 4);
        Put(0x5000, 99, 4);
        Assert.Equal(expected, rig.Data.Span(0, expected.Length).ToArray());
        Assert.Equal([0UL, 1, 2, 3, 4, 5], rig.Mmu.GetDirtyLog(1).SetPages());
        var r = m.Cpu.GetRegisters();
        Assert.Equal(0x0102_0304_0506_0708UL, r.Rbx);
        Assert.Equal(5UL, r.Rdx);
    }

    [Fact]
    public void AWriteTheHostWriteProtectedEndsTheRunWithAnInternalErrorAndLeavesMemoryAlone()
    {
        using var rig = new Rig(_accelerator, 4, MemslotFlags.LogDirtyPages);
        rig.Mmu.WriteProtect(new GfnRange((DataBase >> PageSize.Shift) + 2, 1), WriteProtectReason.Host);
        rig.Machine.Load(32, a =>
        {
            a.mov(__dword_ptr[(uint)Page(2)], 0xBAD);
            a.hlt();
        });
        rig.Machine.EnterProtectedMode(TestMachine.CodeAddress);

        var exit = Assert.IsType<VcpuExit.InternalError>(rig.Machine.Cpu.Run(new RecordingExitHandler()));

        Assert.Contains($"0x{Page(2):x}", exit.Reason);
        Assert.Contains("Host", exit.Reason);
        Assert.Equal(0u, rig.Data.Read<uint>(2 * PageSize.Bytes));
    }
}
