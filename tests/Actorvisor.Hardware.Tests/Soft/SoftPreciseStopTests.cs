using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.X86;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using static Actorvisor.Hardware.Tests.Soft.SoftApicWiringTests;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// Stops with code hooks installed (a precise-fault code hook over the blocks that touched lazy memory, while the guest
/// uses async page faults). With any code hook, Unicorn 2.0.1 does not rewind RIP when it leaves a block at its start
/// check, and a block entered through a chained direct jump has not written RIP yet, so a stop taken at such a block's
/// start resumed at the previous block's last instruction and ran it twice (a CALL pushed twice: seen as the async-PF
/// scheduler guest's corrupted IRETQ frames and its flaky counts) unless the run loop puts RIP back where the stop hook
/// stopped. The guest here calls a function (which carries a code hook) in a tight loop and checks its stack after
/// every call while the host kicks it thousands of times; each kick must resume exactly where it stopped.
/// </summary>
public sealed class SoftPreciseStopTests
{
    private const ulong Area = 0x9040;
    private const ulong StackTop = 0x8800;
    private const ushort BadPort = 0xd2;
    private const int Kicks = 3000;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_kicked_guest_with_a_code_hook_resumes_where_it_stopped_and_replays_nothing(bool nativeHooks)
    {
        SoftExitHooks.PreferNativeStopHooks = nativeHooks;
        try
        {
            using var m = new TestMachine(new SoftAccelerator());
            var cpu = (SoftVcpu)m.Cpu;
            ulong function = LoadCallLoop(m);
            // As a lazy-memory fault in the function's block would: inc rdx (3 bytes) and ret.
            cpu.AddPreciseBlockForTest(function, function + 3);

            var (exit, kicked, _) = KickRepeatedly(cpu, Kicks, function);

            var r = cpu.GetRegisters();
            Assert.Equal([(function, function + 3)], cpu.PreciseBlocksForTest);
            Assert.True(exit == VcpuExit.Kicked, $"the guest found its stack off after a call (rsp 0x{r.Rsp:x}, {r.Rdx} calls, {kicked} kicks): {exit}");
            Assert.Equal(Kicks, kicked);
            Assert.InRange(r.Rsp, StackTop - 8, StackTop);
            Assert.True(r.Rdx > 1000, $"the guest made progress between kicks ({r.Rdx} calls)");
        }
        finally
        {
            SoftExitHooks.PreferNativeStopHooks = true;
        }
    }

    /// <summary>
    /// A block learnt while the guest runs (its code already translated) gets its code hook in the running engine, its
    /// translation dropped (uc_ctl_remove_cache), instead of a rebuilt engine (~11 ms of a vCPU that computes nothing):
    /// the engine stays the same, and from then on a kick can stop the guest before the function's RET, which is no
    /// block start (before it, with no code hook there, no stop ever lands on it).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_block_learnt_while_the_guest_runs_gets_its_code_hook_in_the_same_engine(bool nativeHooks)
    {
        SoftExitHooks.PreferNativeStopHooks = nativeHooks;
        try
        {
            using var m = new TestMachine(new SoftAccelerator());
            var cpu = (SoftVcpu)m.Cpu;
            ulong function = LoadCallLoop(m);
            ulong ret = function + 3;

            var (before, _, atRetBefore) = KickRepeatedly(cpu, Kicks / 10, ret);
            Assert.Equal(VcpuExit.Kicked, before);
            Assert.Equal(0, atRetBefore);
            var engine = cpu.EngineForTest;
            Assert.NotNull(engine);
            Assert.Empty(engine.PreciseBlocks);

            cpu.AddPreciseBlockForTest(function, ret);
            var (exit, kicked, atRet) = KickRepeatedly(cpu, Kicks / 3, ret);

            var r = cpu.GetRegisters();
            Assert.Same(engine, cpu.EngineForTest);
            Assert.Equal([(function, ret)], engine.PreciseBlocks);
            Assert.True(exit == VcpuExit.Kicked, $"the guest found its stack off after a call (rsp 0x{r.Rsp:x}, {r.Rdx} calls, {kicked} kicks): {exit}");
            Assert.True(atRet > 0, $"no kick of {kicked} stopped the guest before the RET the new code hook covers");
            Assert.InRange(r.Rsp, StackTop - 8, StackTop);
        }
        finally
        {
            SoftExitHooks.PreferNativeStopHooks = true;
        }
    }

    // A guest that calls a function (inc rdx; ret) in a tight loop and checks its stack after every call; the function's
    // address. Enabling async page faults keeps lazy memory trapped; the code hook is the test's.
    private static ulong LoadCallLoop(TestMachine m)
    {
        ulong function = 0x1800; // the same page: QEMU chains direct jumps only within a page
        m.Load(64, a =>
        {
            var loop = a.CreateLabel();
            var bad = a.CreateLabel();
            WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, Area | KvmParavirtMsrs.Enabled | KvmParavirtMsrs.DeliveryAsInt);
            a.mov(rsp, StackTop);
            a.xor(edx, edx);
            a.Label(ref loop);
            a.call(function);
            a.cmp(rsp, (int)StackTop);
            a.jne(bad);
            a.jmp(loop);
            a.Label(ref bad);
            a.@out((byte)BadPort, al);
            a.hlt();
        });
        m.Load(64, a => { a.inc(rdx); a.ret(); }, function);
        m.EnterLongMode(TestMachine.CodeAddress);
        return function;
    }

    // Runs the guest, kicked from another thread, until it has been kicked `kicks` times or exits otherwise; the last
    // exit, the kicks, and how many kicked stops left RIP at `watched`.
    private static (VcpuExit Exit, int Kicked, int StopsAtWatched) KickRepeatedly(SoftVcpu cpu, int kicks, ulong watched)
    {
        var handler = new RecordingExitHandler { StopPorts = { BadPort } };
        int kicked = 0, atWatched = 0;
        using var done = new CancellationTokenSource();
        var kicker = Task.Factory.StartNew(() =>
        {
            while (!done.IsCancellationRequested)
            {
                cpu.Kick();
                Thread.SpinWait(500);
            }
        }, TaskCreationOptions.LongRunning);
        VcpuExit exit;
        // Each Run ends at the next kick; the bound is only there to end a hung guest.
        var bound = Stopwatch.StartNew();
        while (true)
        {
            exit = cpu.Run(handler);
            if (exit != VcpuExit.Kicked) break;
            if (cpu.GetRegisters().Rip == watched) atWatched++;
            if (++kicked >= kicks || bound.Elapsed > TimeSpan.FromMinutes(2)) break;
        }
        done.Cancel();
        kicker.Wait();
        return (exit, kicked, atWatched);
    }
}
