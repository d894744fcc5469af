using System.Text;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Kvm.Tests;

/// <summary>The IAccelerator adapters over real KVM: the run loop, kicks, memslots, CPUID for long mode, threads.</summary>
public sealed class KvmAcceleratorTests : IDisposable
{
    /// <summary>512 KiB of RAM at 0: real-mode tests find unbacked addresses (MMIO) and room for extra slots above it.</summary>
    private const ulong RamSize = 0x8_0000;
    private const ulong CodeAddress = 0x1_0000;
    /// <summary>Real-mode code runs with CS = 0, so it must sit below 64 KiB.</summary>
    private const ulong RealModeCodeAddress = 0x4000;

    private readonly KvmAccelerator _accel = KvmAccelerator.Open();
    private readonly IVirtualMachine _vm;
    private readonly HostMemory _ram = HostMemory.Allocate(RamSize);

    public KvmAcceleratorTests()
    {
        _vm = _accel.CreateVm();
        _vm.SetMemoryRegion(Memslot.For(0, 0, _ram));
    }

    public void Dispose()
    {
        _vm.Dispose();
        _ram.Dispose();
        _accel.Dispose();
    }

    [Fact]
    public void Reports_kvm_with_api_12()
    {
        Assert.True(KvmAccelerator.IsAvailable(out var reason), reason);
        Assert.Equal(AcceleratorKind.Kvm, _accel.Kind);
        Assert.Equal("KVM (API 12)", _accel.Description);
    }

    [Fact]
    public void Port_io_goes_to_the_handler_inline_until_hlt()
    {
        var vcpu = RealModeVcpu(0, a =>
        {
            a.mov(dx, 0x71);
            a.@in(al, dx);          // the handler answers 0x2a
            a.mov(dx, 0x3f8);
            a.@out(dx, al);
            a.mov(al, (byte)'!');
            a.@out(dx, al);
            a.hlt();
        });
        var handler = new RecordingExitHandler { InValues = { [0x71] = 0x2a } };

        var exit = vcpu.Run(handler);

        Assert.Same(VcpuExit.Halted, exit);
        Assert.Equal(new byte[] { 0x2a, (byte)'!' }, handler.BytesOut(0x3f8));
    }

    [Fact]
    public void Handler_stop_returns_the_port_exit_and_run_resumes_after_it()
    {
        var vcpu = RealModeVcpu(0, a =>
        {
            a.mov(dx, 0x604);
            a.mov(ax, 0x2000);
            a.@out(dx, ax);
            a.hlt();
        });
        var handler = new RecordingExitHandler { StopOnPort = 0x604 };

        var exit = Assert.IsType<VcpuExit.PortIo>(vcpu.Run(handler));
        Assert.Equal(new VcpuExit.PortIo(0x604, 2, IoDirection.Out, 0x2000), exit);
        Assert.Same(VcpuExit.Halted, vcpu.Run(handler));
    }

    [Fact]
    public void Write_to_a_read_only_slot_exits_as_mmio_and_leaves_memory_unchanged()
    {
        using var rom = HostMemory.Allocate(0x1000);
        rom.Write<ushort>(0x10, 0x1234);
        _vm.SetMemoryRegion(Memslot.For(1, 0xe_0000, rom, MemslotFlags.ReadOnly));
        var vcpu = RealModeVcpu(0, a =>
        {
            a.mov(ax, 0xe000);
            a.mov(ds, ax);
            a.mov(bx, __word_ptr[0x10]);   // reads work: 0x1234
            a.mov(__word_ptr[0x10], 0x5678); // writes exit
            a.mov(ax, bx);
            a.mov(dx, 0x80);
            a.@out(dx, ax);
            a.hlt();
        });
        var handler = new RecordingExitHandler();

        Assert.Same(VcpuExit.Halted, vcpu.Run(handler));

        var write = Assert.Single(handler.MmioAccesses);
        Assert.Equal((0xe_0010ul, true), (write.Gpa, write.IsWrite));
        Assert.Equal(new byte[] { 0x78, 0x56 }, write.Data);
        Assert.Equal(0x1234, rom.Read<ushort>(0x10));
        Assert.Equal(new byte[] { 0x34, 0x12 }, handler.BytesOut(0x80));
    }

    [Fact]
    public void Mmio_read_data_from_the_handler_reaches_the_guest()
    {
        var vcpu = RealModeVcpu(0, a =>
        {
            a.mov(ax, 0xf000);            // 0xf0000: no slot
            a.mov(ds, ax);
            a.mov(eax, __dword_ptr[0x8]);
            a.mov(dx, 0x80);
            a.@out(dx, eax);
            a.hlt();
        });
        var handler = new RecordingExitHandler { MmioReadValue = 0xcafe_f00d };

        Assert.Same(VcpuExit.Halted, vcpu.Run(handler));

        Assert.Equal((0xf_0008ul, false), (handler.MmioAccesses[0].Gpa, handler.MmioAccesses[0].IsWrite));
        Assert.Equal(BitConverter.GetBytes(0xcafe_f00du), handler.BytesOut(0x80));
    }

    [Fact]
    public void Kick_from_another_thread_interrupts_a_guest_spinning_inside_kvm_run()
    {
        const ushort counter = 0x3000, flag = 0x3004;
        var vcpu = RealModeVcpu(0, a =>
        {
            var spin = a.CreateLabel();
            var done = a.CreateLabel();
            a.Label(ref spin);
            a.inc(__dword_ptr[counter]);
            a.cmp(__byte_ptr[flag], 0);
            a.jne(done);
            a.jmp(spin);
            a.Label(ref done);
            a.hlt();
        });
        var handler = new RecordingExitHandler();
        var run = Task.Factory.StartNew(() => vcpu.Run(handler), TaskCreationOptions.LongRunning);

        // The guest has no exit in its loop: once the counter moves, the vCPU thread is inside KVM_RUN and only
        // the signal can bring it out (immediate_exit is only read on entry).
        Assert.True(SpinWait.SpinUntil(() => _ram.Read<uint>(counter) > 1000 || run.IsCompleted, TimeSpan.FromSeconds(60)), "guest never ran");
        Assert.False(run.IsCompleted, $"Run returned before the kick: {(run.IsCompleted ? run.Result : null)}");
        vcpu.Kick();

        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "Kick did not interrupt KVM_RUN");
        Assert.Same(VcpuExit.Kicked, run.Result);
        Assert.Empty(handler.Outs);

        // The kick is consumed: the next Run continues the guest where it was.
        _ram.Write<byte>(flag, 1);
        Assert.Same(VcpuExit.Halted, vcpu.Run(handler));
    }

    [Fact]
    public void Kick_before_run_is_sticky_and_runs_no_guest_code()
    {
        var vcpu = RealModeVcpu(0, a => a.hlt());
        vcpu.Kick();

        Assert.Same(VcpuExit.Kicked, vcpu.Run(new RecordingExitHandler()));
        Assert.Equal(RealModeCodeAddress, vcpu.GetRegisters().Rip);
        Assert.Same(VcpuExit.Halted, vcpu.Run(new RecordingExitHandler()));
    }

    // The interleaving that stalled a restored counter guest in CI (KvmVmSnapshotTests, eager): Kick sets its flag, the
    // run loop consumes it (clearing immediate_exit), and only then does the kick's store to immediate_exit land. Before
    // the fix every later KVM_RUN returned -EINTR at once and Run spun without running the guest until the next kick.
    [Fact]
    public void A_kicks_immediate_exit_landing_after_the_kick_was_consumed_does_not_stall_the_next_run()
    {
        var vcpu = (KvmVirtualCpu)RealModeVcpu(0, a =>
        {
            a.mov(al, 0x5a);
            a.@out(0x80, al);
            a.hlt();
        });
        vcpu.Kick();
        Assert.Same(VcpuExit.Kicked, vcpu.Run(new RecordingExitHandler()));
        vcpu.Fd.RequestImmediateExit(); // the consumed kick's late store

        var handler = new RecordingExitHandler();
        var run = Task.Factory.StartNew(() => vcpu.Run(handler), TaskCreationOptions.LongRunning);
        bool ended = run.Wait(TimeSpan.FromSeconds(60));
        if (!ended)
        {
            vcpu.Kick();
            run.Wait(TimeSpan.FromSeconds(60));
        }
        Assert.True(ended, "Run spun on -EINTR from a stale immediate_exit and never ran the guest");
        Assert.Same(VcpuExit.Halted, run.Result);
        Assert.Equal(new byte[] { 0x5a }, handler.BytesOut(0x80));
    }

    // Kicks landing at every point of a run loop that re-enters after each kick (as VcpuRunLoop does), against a guest
    // that exits on every loop turn: after the last kick the guest must still make progress.
    [Fact]
    public void A_guest_keeps_running_after_thousands_of_kicks_racing_its_exits()
    {
        const int kicks = 2000;
        var vcpu = RealModeVcpu(0, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.@out(0x80, al);
            a.jmp(loop);
        });
        var handler = new CountingExitHandler();
        long kicked = 0;
        bool stop = false;
        var runner = Task.Factory.StartNew(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                var exit = vcpu.Run(handler);
                if (exit != VcpuExit.Kicked) return exit;
                Interlocked.Increment(ref kicked);
            }
            return VcpuExit.Kicked;
        }, TaskCreationOptions.LongRunning);
        Assert.True(SpinWait.SpinUntil(() => handler.Outs > 0 || runner.IsCompleted, TimeSpan.FromSeconds(60)), "guest never ran");

        for (int i = 0; i < kicks && !runner.IsCompleted; i++)
        {
            long before = Interlocked.Read(ref kicked);
            // Let the guest make an exit or a few between kicks, so that kicks land inside KVM_RUN, in the exit
            // handler and between Run calls alike.
            long outs = handler.Outs;
            SpinWait.SpinUntil(() => handler.Outs > outs + (i % 3), TimeSpan.FromSeconds(60));
            vcpu.Kick();
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref kicked) > before || runner.IsCompleted, TimeSpan.FromSeconds(60)), $"kick {i} was not taken");
        }
        Assert.False(runner.IsCompleted, $"Run ended: {(runner.IsCompleted ? runner.Result : null)}");
        long afterKicks = handler.Outs;
        bool progressed = SpinWait.SpinUntil(() => handler.Outs > afterKicks + 100, TimeSpan.FromSeconds(60));
        Volatile.Write(ref stop, true);
        vcpu.Kick();
        Assert.True(runner.Wait(TimeSpan.FromSeconds(60)), "the run loop did not stop");
        Assert.True(progressed, $"the guest made {handler.Outs - afterKicks} exits in 60 s after the last of {kicks} kicks");
    }

    [Fact]
    public void Overlapping_memslot_is_refused_before_the_ioctl()
    {
        using var more = HostMemory.Allocate(0x2000);
        var e = Assert.Throws<MemslotException>(() => _vm.SetMemoryRegion(Memslot.For(1, 0x1000, more)));
        Assert.Contains("overlaps memslot 0", e.Message);
        Assert.Single(_vm.Memslots.Slots);
    }

    [Fact]
    public void Slot_can_be_resized_deleted_and_reused()
    {
        using var a = HostMemory.Allocate(0x4000);
        _vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, a));
        _vm.SetMemoryRegion(new Memslot(1, 0x40_0000, 0x2000, a.Address)); // KVM needs delete + create for this
        Assert.Equal(0x2000ul, _vm.Memslots.ById(1)!.Size);
        _vm.DeleteMemoryRegion(1);
        Assert.Null(_vm.Memslots.ById(1));
        Assert.Throws<MemslotException>(() => _vm.DeleteMemoryRegion(1));
        _vm.SetMemoryRegion(Memslot.For(2, 0x40_0000, a));
    }

    [Fact]
    public void Dirty_log_of_a_log_dirty_slot_returns_exactly_the_written_pages_then_none()
    {
        using var data = HostMemory.Allocate(0x10000);
        _vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, data, MemslotFlags.LogDirtyPages));
        var vcpu = LongModeVcpu(0, a =>
        {
            a.mov(rdi, 0x40_0000);
            a.mov(__byte_ptr[rdi + 0x0000], 1);
            a.mov(__byte_ptr[rdi + 0x5008], 2);
            a.mov(__dword_ptr[rdi + 0xfffc], 3);
            a.hlt();
        });

        Assert.Same(VcpuExit.Halted, vcpu.Run(new RecordingExitHandler()));

        var kvmVm = Assert.IsType<KvmVirtualMachine>(_vm);
        Assert.Equal([0ul, 5, 15], kvmVm.GetDirtyLog(1).SetPages());
        Assert.Empty(kvmVm.GetDirtyLog(1).SetPages());
        Assert.Throws<MemslotException>(() => kvmVm.GetDirtyLog(0));
        Assert.Throws<InvalidOperationException>(() => kvmVm.ClearDirtyLog(1, 0, new DirtyBitmap(64)));
    }

    [Fact]
    public void Long_mode_guest_runs_64_bit_code_with_the_supported_cpuid()
    {
        var vcpu = LongModeVcpu(0, a =>
        {
            a.mov(rax, 0x1122_3344_5566_7788);
            a.mov(dx, 0x10);
            a.@out(dx, eax);
            a.shr(rax, 32);
            a.@out(dx, eax);
            a.hlt();
        });
        var handler = new RecordingExitHandler();

        Assert.Same(VcpuExit.Halted, vcpu.Run(handler));

        Assert.Equal(BitConverter.GetBytes(0x1122_3344_5566_7788UL), handler.BytesOut(0x10));
        var sregs = vcpu.GetSpecialRegisters();
        Assert.NotEqual(0ul, sregs.Efer & ControlBits.EferLma);
    }

    [Fact]
    public void Two_vcpus_run_in_two_threads()
    {
        var handlers = new[] { new RecordingExitHandler(), new RecordingExitHandler() };
        var vcpus = new IVirtualCpu[2];
        for (int id = 0; id < 2; id++)
        {
            ulong code = CodeAddress + (ulong)id * 0x1000;
            byte tag = (byte)('A' + id);
            vcpus[id] = LongModeVcpu(id, a =>
            {
                a.mov(ecx, 3);
                var loop = a.CreateLabel();
                a.Label(ref loop);
                a.mov(dx, 0x3f8);
                a.mov(al, tag);
                a.@out(dx, al);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            }, code);
        }

        var runs = Enumerable.Range(0, 2)
            .Select(i => Task.Factory.StartNew(() => vcpus[i].Run(handlers[i]), TaskCreationOptions.LongRunning)).ToArray();

        Assert.True(Task.WaitAll(runs, TimeSpan.FromSeconds(120)), "vCPUs did not halt");
        Assert.All(runs, r => Assert.Same(VcpuExit.Halted, r.Result));
        Assert.Equal("AAA", Encoding.ASCII.GetString(handlers[0].BytesOut(0x3f8)));
        Assert.Equal("BBB", Encoding.ASCII.GetString(handlers[1].BytesOut(0x3f8)));
        Assert.Equal([0, 1], _vm.Vcpus.Select(v => v.Id));
    }

    [Fact]
    public void Run_on_a_second_thread_while_running_is_refused()
    {
        var vcpu = RealModeVcpu(0, a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.mov(__byte_ptr[0x3000], 1);
            a.jmp(spin);
        });
        var handler = new RecordingExitHandler();
        var run = Task.Factory.StartNew(() => vcpu.Run(handler), TaskCreationOptions.LongRunning);
        Assert.True(SpinWait.SpinUntil(() => _ram.Read<byte>(0x3000) == 1, TimeSpan.FromSeconds(60)), "guest never ran");

        var e = Assert.Throws<InvalidOperationException>(() => vcpu.Run(handler));
        Assert.Contains("already running", e.Message);

        vcpu.Kick();
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)));
        Assert.Same(VcpuExit.Kicked, run.Result);
    }

    [Fact]
    public void Registers_round_trip_through_the_adapter()
    {
        var vcpu = _vm.CreateVcpu(0);
        var regs = new Registers { Rax = 1, Rbx = 2, Rcx = 3, Rdx = 4, Rsi = 5, Rdi = 6, Rsp = 7, Rbp = 8, R8 = 9, R15 = 16, Rip = 0x1234, Rflags = 0x202 };
        vcpu.SetRegisters(regs);
        Assert.Equal(regs, vcpu.GetRegisters());

        var sregs = vcpu.GetSpecialRegisters() with { Cr2 = 0xabc000, Ds = Segment.RealMode(0x1234, code: false) };
        vcpu.SetSpecialRegisters(sregs);
        var back = vcpu.GetSpecialRegisters();
        Assert.Equal(sregs.Cr2, back.Cr2);
        Assert.Equal(sregs.Ds.Base, back.Ds.Base);
        Assert.Equal(sregs.Ds.Selector, back.Ds.Selector);
    }

    private IVirtualCpu RealModeVcpu(int id, Action<Assembler> code)
    {
        _ram.Write(RealModeCodeAddress, GuestCode.Assemble(16, RealModeCodeAddress, code));
        var vcpu = _vm.CreateVcpu(id);
        var sregs = vcpu.GetSpecialRegisters() with
        {
            Cs = Segment.RealMode(0, code: true), Ds = Segment.RealMode(0, code: false), Es = Segment.RealMode(0, code: false),
            Ss = Segment.RealMode(0, code: false),
        };
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new Registers { Rip = RealModeCodeAddress, Rsp = 0x7000, Rflags = Registers.ResetRflags });
        return vcpu;
    }

    /// <summary>A vCPU in 64-bit mode: the first 1 GiB identity-mapped with 2 MiB pages, flat segments, code at <paramref name="codeAddress"/>.</summary>
    private IVirtualCpu LongModeVcpu(int id, Action<Assembler> code, ulong codeAddress = CodeAddress)
    {
        const ulong pml4 = 0x1000, pdpt = 0x2000, pd = 0x3000;
        const ulong present = 1, writable = 2, large = 0x80;
        _ram.Write(pml4, pdpt | present | writable);
        _ram.Write(pdpt, pd | present | writable);
        for (ulong i = 0; i < 512; i++) _ram.Write(pd + i * 8, (i << 21) | present | writable | large);
        _ram.Write(codeAddress, GuestCode.Assemble(64, codeAddress, code));

        var vcpu = _vm.CreateVcpu(id);
        var cs = new Segment { Base = 0, Limit = 0xffff_ffff, Selector = 0x8, Type = 0xb, Present = true, S = true, L = true, G = true };
        var ds = new Segment { Base = 0, Limit = 0xffff_ffff, Selector = 0x10, Type = 0x3, Present = true, S = true, Db = true, G = true };
        var sregs = vcpu.GetSpecialRegisters() with
        {
            Cs = cs, Ds = ds, Es = ds, Fs = ds, Gs = ds, Ss = ds,
            Cr3 = pml4,
            Cr4 = ControlBits.Cr4Pae,
            Cr0 = ControlBits.Cr0Pe | ControlBits.Cr0Et | ControlBits.Cr0Ne | ControlBits.Cr0Pg,
            Efer = ControlBits.EferLme | ControlBits.EferLma,
        };
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new Registers { Rip = codeAddress, Rsp = 0x7_0000, Rflags = Registers.ResetRflags });
        return vcpu;
    }

    /// <summary>Counts port writes, from the vCPU thread; read from any thread.</summary>
    private sealed class CountingExitHandler : IExitHandler
    {
        private long _outs;

        public long Outs => Interlocked.Read(ref _outs);

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            if (direction == IoDirection.Out) Interlocked.Increment(ref _outs);
            return ExitAction.Continue;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => ExitAction.Continue;
    }
}
