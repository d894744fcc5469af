using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.X86;
using Actorvisor.Hardware.Tests.Machines;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>Dirty-page logging through <see cref="IVirtualMachine.DirtyLog"/>, with real guests writing memory.</summary>
public abstract partial class AcceleratorContractTests
{
    private const ulong LoggedBase = 0x40_0000;

    [AcceleratorFact]
    public void DirtyLogReportsExactlyThePagesTheGuestWroteAndNoneOnceHarvested()
    {
        using var m = NewMachine();
        var data = m.AllocateExtra(64 * PageSize.Bytes);
        m.Vm.SetMemoryRegion(Memslot.For(1, LoggedBase, data, MemslotFlags.LogDirtyPages));
        ulong[] written = [0, 3, 17, 63];
        m.Load(32, a =>
        {
            foreach (var p in written) a.mov(__dword_ptr[(uint)(LoggedBase + p * PageSize.Bytes + 8)], 0xC0DE_0000u + (uint)p);
            a.mov(eax, __dword_ptr[(uint)(LoggedBase + 5 * PageSize.Bytes)]);   // a read is not a write
            a.@out(0x70, al);
            var after = a.CreateLabel();
            a.jmp(after);                 // the software accelerator stops at the end of a basic block
            a.Label(ref after);
            a.mov(__byte_ptr[(uint)(LoggedBase + 3 * PageSize.Bytes + 0xFFF)], 0x99);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x70 } };

        Assert.IsType<VcpuExit.PortIo>(m.Cpu.Run(handler));
        Assert.Equal(written, m.Vm.DirtyLog.GetDirtyLog(1).SetPages());
        // Harvesting reset the log and write-protected the pages again: nothing until the guest writes.
        Assert.Empty(m.Vm.DirtyLog.GetDirtyLog(1).SetPages());

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([3UL], m.Vm.DirtyLog.GetDirtyLog(1).SetPages());
        Assert.Empty(m.Vm.DirtyLog.GetDirtyLog(1).SetPages());
        foreach (var p in written) Assert.Equal(0xC0DE_0000u + (uint)p, data.Read<uint>(p * PageSize.Bytes + 8));
        Assert.Equal(0x99, data.Read<byte>(3 * PageSize.Bytes + 0xFFF));
    }

    [AcceleratorFact]
    public void DirtyLogOfASlotThatDoesNotLogIsRefused()
    {
        using var m = NewMachine();
        Assert.ThrowsAny<ArgumentException>(() => m.Vm.DirtyLog.GetDirtyLog(0));
        Assert.ThrowsAny<ArgumentException>(() => m.Vm.DirtyLog.GetDirtyLog(7));
    }

    /// <summary>
    /// The migration stress test: two vCPUs run a guest that writes pseudo-random dwords (xorshift32) all over
    /// a dirty-logged slot, while this thread runs migration rounds: harvest the dirty log, copy the dirty
    /// pages into a shadow buffer. After the vCPUs are paused and one last round, the shadow must equal guest
    /// memory: a page written but never reported would differ.
    /// </summary>
    [AcceleratorFact]
    public void MigrationRoundsAgainstTwoVcpusWritingRandomPagesLoseNoPage()
    {
        const int Pages = 256, Rounds = 1000;
        const uint Heartbeat = 0x9000;
        using var m = NewMachine();
        var data = m.AllocateExtra(Pages * PageSize.Bytes);
        m.Vm.SetMemoryRegion(Memslot.For(1, LoggedBase, data, MemslotFlags.LogDirtyPages));
        var second = m.Vm.CreateVcpu(1);
        m.Load(32, a =>
        {
            // esi: xorshift32 state, ebp: vCPU id, ecx: writes so far.
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(eax, esi); a.shl(eax, 13); a.xor(esi, eax);
            a.mov(eax, esi); a.shr(eax, 17); a.xor(esi, eax);
            a.mov(eax, esi); a.shl(eax, 5); a.xor(esi, eax);
            a.mov(edi, esi); a.and(edi, (Pages - 1) << 12);            // page
            a.mov(edx, esi); a.shr(edx, 20); a.and(edx, 0xFFC);        // dword within it
            a.add(edi, edx);
            a.inc(ecx);
            a.mov(__dword_ptr[edi + (uint)LoggedBase], ecx);
            a.mov(__dword_ptr[ebp * 4 + Heartbeat], ecx);              // progress, in the slot that does not log
            a.jmp(loop);
        });
        var cpus = new[] { m.Cpu, second };
        for (int id = 0; id < cpus.Length; id++)
        {
            cpus[id].SetSpecialRegisters(m.ProtectedModeSregs());
            cpus[id].SetRegisters(new Registers { Rip = TestMachine.CodeAddress, Rflags = Registers.ResetRflags, Rsi = 0x1234_5678u * (uint)(id + 1), Rbp = (uint)id });
        }
        var shadow = new byte[Pages * PageSize.Bytes];
        data.Span(0, shadow.Length).CopyTo(shadow);              // round 0: the full copy a migration starts with
        ulong Progress() => m.Ram.Read<uint>(Heartbeat) + (ulong)m.Ram.Read<uint>(Heartbeat + 4);
        long copied = 0;
        void Round()
        {
            foreach (var page in m.Vm.DirtyLog.GetDirtyLog(1).SetPages())
            {
                data.Span(page * PageSize.Bytes, (int)PageSize.Bytes).CopyTo(shadow.AsSpan((int)(page * PageSize.Bytes)));
                copied++;
            }
        }

        var clock = Stopwatch.StartNew();
        var runs = cpus.Select(cpu => Task.Factory.StartNew(() => cpu.Run(new RecordingExitHandler()), TaskCreationOptions.LongRunning)).ToArray();
        for (int round = 0; round < Rounds; round++)
        {
            ulong before = Progress();
            Assert.True(SpinWait.SpinUntil(() => Progress() != before || runs.Any(r => r.IsCompleted), Patience), $"round {round}: the guests made no progress");
            Assert.DoesNotContain(runs, r => r.IsCompleted);
            Round();
        }
        foreach (var cpu in cpus) cpu.Kick();                   // pause
        Assert.True(Task.WaitAll(runs, Patience), "the vCPUs did not pause");
        Assert.All(runs, r => Assert.Equal(VcpuExit.Kicked, r.Result));
        Round();                                                // the last round, guests paused
        clock.Stop();

        var lost = Enumerable.Range(0, Pages)
            .Where(p => !data.Span((ulong)p * PageSize.Bytes, (int)PageSize.Bytes).SequenceEqual(shadow.AsSpan(p * (int)PageSize.Bytes, (int)PageSize.Bytes)))
            .ToArray();
        Assert.True(lost.Length == 0, $"pages written but never reported: {string.Join(", ", lost)}");
        Assert.True(m.Ram.Read<uint>(Heartbeat) > Rounds && m.Ram.Read<uint>(Heartbeat + 4) > Rounds,
            $"both guests must have written (vCPU 0: {m.Ram.Read<uint>(Heartbeat)}, vCPU 1: {m.Ram.Read<uint>(Heartbeat + 4)} writes)");
        Assert.True(copied >= Pages, $"only {copied} dirty pages copied in {Rounds} rounds ({clock.Elapsed.TotalSeconds:F1} s)");
    }
}
