using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;
using Actorvisor.Hardware.Tests.Machines;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>
/// What every accelerator (KVM, software) must do, checked with real guests: each derived class supplies
/// the accelerator. Guests are assembled with Iced and loaded into HostMemory-backed memslots; registers
/// are set the way a VMM sets KVM state.
/// </summary>
public abstract class AcceleratorContractTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    protected AcceleratorContractTests() => Accelerator = CreateAccelerator();

    protected IAccelerator Accelerator { get; }

    /// <summary>The accelerator under test.</summary>
    protected abstract IAccelerator CreateAccelerator();

    public void Dispose()
    {
        Accelerator.Dispose();
        GC.SuppressFinalize(this);
    }

    private TestMachine NewMachine() => new(Accelerator);

    // ---- port I/O ----

    [AcceleratorFact]
    public void OutCarriesPortSizeAndDataForByteWordAndDword()
    {
        using var m = NewMachine();
        m.Load(16, a =>
        {
            a.mov(al, 0x12); a.@out(0x10, al);
            a.mov(ax, 0x3456); a.@out(0x11, ax);
            a.mov(eax, 0x789A_BCDE); a.mov(dx, 0x1234); a.@out(dx, eax);
            a.hlt();
        });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(
            [new(0x10, IoDirection.Out, 1, 0x12), new(0x11, IoDirection.Out, 2, 0x3456), new(0x1234, IoDirection.Out, 4, 0x789A_BCDE)],
            handler.Ports);
    }

    [AcceleratorFact]
    public void InLoadsTheHandlersDataIntoAlAxEax()
    {
        using var m = NewMachine();
        m.Load(16, a =>
        {
            a.mov(eax, 0xFFFF_FFFF); a.mov(ebx, 0xFFFF_FFFF); a.mov(ecx, 0xFFFF_FFFF);
            a.@in(al, 0x30); a.mov(ebx, eax);
            a.mov(eax, 0xFFFF_FFFF); a.@in(ax, 0x31); a.mov(ecx, eax);
            a.mov(dx, 0x32); a.@in(eax, dx);
            a.hlt();
        });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { InValues = { [0x30] = 0xAB, [0x31] = 0xEFCD, [0x32] = 0x0403_0201 } };

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        var r = m.Cpu.GetRegisters();
        Assert.Equal(0xFFFF_FFABUL, r.Rbx & 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_EFCDUL, r.Rcx & 0xFFFF_FFFF);
        Assert.Equal(0x0403_0201UL, r.Rax & 0xFFFF_FFFF);
        Assert.Equal([new(0x30, IoDirection.In, 1, 0xAB), new(0x31, IoDirection.In, 2, 0xEFCD), new(0x32, IoDirection.In, 4, 0x0403_0201)], handler.Ports);
    }

    [AcceleratorFact]
    public void PortIoStopReturnsTheExitAndTheNextRunContinuesAfterIt()
    {
        using var m = NewMachine();
        ulong end = m.Load(16, a =>
        {
            a.mov(al, 0x55); a.@out(0x20, al);
            a.mov(al, 0x66); a.@out(0x21, al);
            a.hlt();
        });
        ulong afterFirstOut = TestMachine.CodeAddress + 4;
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x20 } };

        var exit = Assert.IsType<VcpuExit.PortIo>(m.Cpu.Run(handler));
        Assert.Equal(new VcpuExit.PortIo(0x20, 1, IoDirection.Out, 0x55), exit);
        ulong rip = m.Cpu.GetRegisters().Rip;
        // After the OUT and not past the hlt (KVM stops right after the OUT; the software accelerator may
        // finish the instructions of the basic block first, never the hlt).
        Assert.InRange(rip, afterFirstOut, end - 1);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(end, m.Cpu.GetRegisters().Rip);
        Assert.Equal([new(0x20, IoDirection.Out, 1, 0x55), new(0x21, IoDirection.Out, 1, 0x66)], handler.Ports);
    }

    [AcceleratorFact]
    public void InStopReportsTheDataTheHandlerSupplied()
    {
        using var m = NewMachine();
        m.Load(16, a => { a.@in(ax, 0x40); a.mov(ebx, eax); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x40 }, InValues = { [0x40] = 0xBEEF } };

        Assert.Equal(new VcpuExit.PortIo(0x40, 2, IoDirection.In, 0xBEEF), m.Cpu.Run(handler));
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(0xBEEFUL, m.Cpu.GetRegisters().Rbx & 0xFFFF);
    }

    [AcceleratorFact]
    public void AnExceptionFromTheHandlerComesOutOfRun()
    {
        using var m = NewMachine();
        m.Load(16, a => { a.@out(0x42, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        var boom = new InvalidOperationException("device failed");
        var handler = new RecordingExitHandler { ThrowOnPort = (0x42, boom) };

        Assert.Same(boom, Assert.Throws<InvalidOperationException>(() => m.Cpu.Run(handler)));
    }

    // ---- MMIO ----

    [AcceleratorFact]
    public void MmioReadReturnsTheHandlersData()
    {
        using var m = NewMachine();
        m.Load(32, a =>
        {
            a.mov(eax, __dword_ptr[TestMachine.MmioAddress + 0x10]);
            a.@out(0x50, eax);
            a.movzx(ebx, __byte_ptr[TestMachine.MmioAddress + 0x21]);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { MmioReadValue = gpa => gpa == TestMachine.MmioAddress + 0x10 ? 0x1122_3344UL : 0x99 };

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(TestMachine.MmioAddress + 0x10, false, 4, 0x1122_3344), new(TestMachine.MmioAddress + 0x21, false, 1, 0x99)], handler.Mmio);
        Assert.Equal([new(0x50, IoDirection.Out, 4, 0x1122_3344)], handler.Ports);
        Assert.Equal(0x99UL, m.Cpu.GetRegisters().Rbx);
    }

    [AcceleratorFact]
    public void MmioWriteCarriesTheData()
    {
        using var m = NewMachine();
        m.Load(32, a =>
        {
            a.mov(__dword_ptr[TestMachine.MmioAddress + 0x20], 0xCAFE_BABE);
            a.mov(__word_ptr[TestMachine.MmioAddress + 0x30], 0x1234);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(TestMachine.MmioAddress + 0x20, true, 4, 0xCAFE_BABE), new(TestMachine.MmioAddress + 0x30, true, 2, 0x1234)], handler.Mmio);
    }

    [AcceleratorFact]
    public void MmioStopReturnsTheExit()
    {
        using var m = NewMachine();
        m.Load(32, a =>
        {
            a.mov(__dword_ptr[TestMachine.MmioAddress], 0xA5A5_0001);
            a.mov(eax, __dword_ptr[TestMachine.MmioAddress + 8]);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopMmio = { TestMachine.MmioAddress, TestMachine.MmioAddress + 8 }, MmioReadValue = _ => 0x7777 };

        Assert.Equal(new VcpuExit.Mmio(TestMachine.MmioAddress, 4, true, 0xA5A5_0001), m.Cpu.Run(handler));
        Assert.Equal(new VcpuExit.Mmio(TestMachine.MmioAddress + 8, 4, false, 0x7777), m.Cpu.Run(handler));
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(0x7777UL, m.Cpu.GetRegisters().Rax & 0xFFFF_FFFF);
        Assert.Equal(2, handler.Mmio.Count);
    }

    [AcceleratorFact]
    public void WritesToAReadOnlySlotExitAsMmioAndLeaveMemoryUnchanged()
    {
        using var m = NewMachine();
        var rom = m.AllocateExtra(0x1000);
        rom.Write<uint>(0, 0x5A5A_5A5A);
        m.Vm.SetMemoryRegion(Memslot.For(1, 0x30_0000, rom, MemslotFlags.ReadOnly));
        m.Load(32, a =>
        {
            a.mov(__byte_ptr[0x30_0000], 0x77);
            a.mov(__dword_ptr[0x30_0004], 0x1234_5678);
            a.mov(eax, __dword_ptr[0x30_0000]);
            a.@out(0x60, eax);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(0x30_0000, true, 1, 0x77), new(0x30_0004, true, 4, 0x1234_5678)], handler.Mmio);
        Assert.Equal([new(0x60, IoDirection.Out, 4, 0x5A5A_5A5A)], handler.Ports);
        Assert.Equal(0x5A5A_5A5AU, rom.Read<uint>(0));
        Assert.Equal(0U, rom.Read<uint>(4));
    }

    // ---- HLT, shutdown, internal error ----

    [AcceleratorFact]
    public void HltReturnsHaltedWithRipAfterIt()
    {
        using var m = NewMachine();
        ulong end = m.Load(16, a => { a.nop(); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        Assert.Equal(end, m.Cpu.GetRegisters().Rip);
    }

    [AcceleratorFact]
    public void Ud2WithoutAnIdtShutsDown()
    {
        using var m = NewMachine();
        m.Load(16, a => { a.nop(); a.ud2(); });
        m.EnterRealMode(TestMachine.CodeAddress);

        var exit = m.Cpu.Run(new RecordingExitHandler());
        Assert.IsType<VcpuExit.Shutdown>(exit);
        Assert.True(exit.IsFatal);
    }

    [AcceleratorFact]
    public void GeneralProtectionFaultWithoutAnIdtShutsDown()
    {
        using var m = NewMachine();
        m.Load(32, a => { a.mov(ax, 0x1234); a.mov(ds, ax); a.hlt(); }); // selector beyond the GDT limit
        m.EnterProtectedMode(TestMachine.CodeAddress);

        Assert.IsType<VcpuExit.Shutdown>(m.Cpu.Run(new RecordingExitHandler()));
    }

    [AcceleratorFact]
    public void ExecutingFromMmioIsAnInternalError()
    {
        using var m = NewMachine();
        m.Load(32, a => { a.mov(eax, (uint)TestMachine.MmioAddress); a.jmp(eax); });
        m.EnterProtectedMode(TestMachine.CodeAddress);

        var exit = m.Cpu.Run(new RecordingExitHandler());
        Assert.IsType<VcpuExit.InternalError>(exit);
        Assert.True(exit.IsFatal);
    }

    // ---- registers ----

    [AcceleratorFact]
    public void RegistersRoundTrip()
    {
        using var m = NewMachine();
        var regs = new Registers
        {
            Rax = 0x1111_0000_0000_0001, Rbx = 0x2222_0000_0000_0002, Rcx = 0x3333_0000_0000_0003, Rdx = 0x4444_0000_0000_0004,
            Rsi = 0x5555_0000_0000_0005, Rdi = 0x6666_0000_0000_0006, Rsp = 0x7777_0000_0000_0007, Rbp = 0x8888_0000_0000_0008,
            R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 0xF0F0_F0F0_F0F0_F0F0,
            Rip = TestMachine.CodeAddress, Rflags = 0x2 | 0x1 | 0x40 | 0x800, // CF, ZF, OF
        };
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Cpu.SetRegisters(regs);
        Assert.Equal(regs, m.Cpu.GetRegisters());

        ulong end = m.Load(64, a => a.hlt());
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        Assert.Equal(regs with { Rip = end }, m.Cpu.GetRegisters());
    }

    [AcceleratorFact]
    public void SpecialRegistersRoundTrip()
    {
        using var m = NewMachine();
        m.EnterLongMode(TestMachine.CodeAddress);
        var sregs = m.Cpu.GetSpecialRegisters() with
        {
            Fs = new Segment { Selector = 0x10, Base = 0x7000_1000, Limit = 0xFFFF_FFFF, Type = 3, Present = true, S = true, Db = true, G = true },
            Gs = new Segment { Selector = 0x10, Base = 0xFFFF_8000_0000_2000, Limit = 0xFFFF_FFFF, Type = 3, Present = true, S = true, Db = true, G = true },
            Tr = new Segment { Selector = 0x28, Base = 0x3000, Limit = 0x67, Type = 0xB, Present = true },
            Idt = new DescriptorTable(0x4000, 0xFFF),
            Cr2 = 0xDEAD_B000,
            Cr4 = ControlBits.Cr4Pae | ControlBits.Cr4Osfxsr,
            Efer = ControlBits.EferLme | ControlBits.EferLma,
        };
        m.Cpu.SetSpecialRegisters(sregs);
        AssertSameSpecialRegisters(sregs, m.Cpu.GetSpecialRegisters());

        m.Load(64, a => a.hlt());
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        AssertSameSpecialRegisters(sregs, m.Cpu.GetSpecialRegisters());
    }

    private static void AssertSameSpecialRegisters(SpecialRegisters expected, SpecialRegisters actual)
    {
        Assert.Equal(expected.Cs, actual.Cs);
        Assert.Equal(expected.Ds, actual.Ds);
        Assert.Equal(expected.Es, actual.Es);
        Assert.Equal(expected.Fs, actual.Fs);
        Assert.Equal(expected.Gs, actual.Gs);
        Assert.Equal(expected.Ss, actual.Ss);
        Assert.Equal(expected.Tr, actual.Tr);
        Assert.Equal((expected.Ldt.Selector, expected.Ldt.Unusable), (actual.Ldt.Selector, actual.Ldt.Unusable));
        Assert.Equal(expected.Gdt, actual.Gdt);
        Assert.Equal(expected.Idt, actual.Idt);
        Assert.Equal((expected.Cr0, expected.Cr2, expected.Cr3, expected.Cr4, expected.Efer), (actual.Cr0, actual.Cr2, actual.Cr3, actual.Cr4, actual.Efer));
    }

    // ---- CPU modes ----

    [AcceleratorFact]
    public void RealModeUsesTheCodeSegmentBase()
    {
        using var m = NewMachine();
        // CS = 0x200 (base 0x2000), IP = 0x10: the code sits at linear 0x2010.
        m.Load(16, a => { a.mov(ax, cs); a.@out(0x70, ax); a.hlt(); }, address: 0x2010);
        m.EnterRealMode(0x10, cs: 0x200);

        var handler = new RecordingExitHandler();
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(0x70, IoDirection.Out, 2, 0x200)], handler.Ports);
        Assert.Equal(0x200, m.Cpu.GetSpecialRegisters().Cs.Selector);
        Assert.Equal(0x2000UL, m.Cpu.GetSpecialRegisters().Cs.Base);
    }

    [AcceleratorFact]
    public void ProtectedModeGuestUses32BitAddressesAndRegisters()
    {
        using var m = NewMachine();
        m.Load(32, a =>
        {
            a.mov(eax, 0x1234_5678);
            a.mov(__dword_ptr[0x15_0000], eax);
            a.mov(ebx, __dword_ptr[0x15_0000]);
            a.add(ebx, 1);
            a.mov(eax, ebx);
            a.@out(0x80, eax);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(0x80, IoDirection.Out, 4, 0x1234_5679)], handler.Ports);
        Assert.Equal(0x1234_5678U, m.Ram.Read<uint>(0x15_0000));
    }

    [AcceleratorFact]
    public void LongModeGuestUses64BitRegistersPagingAndMmio()
    {
        using var m = NewMachine();
        m.Load(64, a =>
        {
            a.mov(rax, 0x1122_3344_5566_7788);
            a.mov(__qword_ptr[0x18_0000], rax);
            a.mov(rcx, __qword_ptr[0x18_0000]);
            a.shr(rcx, 32);
            a.xchg(rax, rcx);
            a.@out(0x90, eax);
            a.xchg(rax, rcx);
            a.mov(rbx, TestMachine.MmioAddress);
            a.mov(__dword_ptr[rbx], eax);
            a.hlt();
        });
        m.EnterLongMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(0x1122_3344_5566_7788UL, m.Ram.Read<ulong>(0x18_0000));
        Assert.Equal([new(0x90, IoDirection.Out, 4, 0x1122_3344)], handler.Ports);
        Assert.Equal([new(TestMachine.MmioAddress, true, 4, 0x5566_7788)], handler.Mmio);
        Assert.Equal(0x1122_3344_5566_7788UL, m.Cpu.GetRegisters().Rax);
    }

    [AcceleratorFact]
    public void CodeLoadedBetweenRunsIsTheCodeThatRuns()
    {
        using var m = NewMachine();
        var handler = new RecordingExitHandler();
        m.Load(16, a => { a.mov(al, 1); a.@out(0x10, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        m.Load(16, a => { a.mov(al, 2); a.@out(0x10, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        Assert.Equal([1u, 2u], handler.Ports.Select(p => p.Data));
    }

    // ---- memslots ----

    [AcceleratorFact]
    public void AddedSlotIsRamAndADeletedSlotBecomesMmio()
    {
        using var m = NewMachine();
        var extra = m.AllocateExtra(0x1000);
        extra.Write<byte>(0, 0xA5);
        m.Load(32, a => { a.mov(al, __byte_ptr[0x40_0000]); a.@out(0xA0, al); a.hlt(); });
        var handler = new RecordingExitHandler { MmioReadValue = _ => 0x3C };

        m.Vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, extra));
        m.EnterProtectedMode(TestMachine.CodeAddress);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        m.Vm.DeleteMemoryRegion(1);
        m.EnterProtectedMode(TestMachine.CodeAddress);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        var replacement = m.AllocateExtra(0x1000);
        replacement.Write<byte>(0, 0x5E);
        m.Vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, replacement));
        m.EnterProtectedMode(TestMachine.CodeAddress);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));

        Assert.Equal([0xA5u, 0x3Cu, 0x5Eu], handler.Ports.Select(p => p.Data));
        Assert.Equal([new(0x40_0000, false, 1, 0x3C)], handler.Mmio);
    }

    [AcceleratorFact]
    public void ASlotAddedWhileTheVcpuRunsBecomesVisibleWithoutInterruptingRun()
    {
        using var m = NewMachine();
        var flagPage = m.AllocateExtra(0x1000);
        flagPage.Write<byte>(0, 1);
        m.Load(32, a =>
        {
            a.@out(0xB0, al); // tells the test the guest runs
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.cmp(__byte_ptr[0x40_0000], 0); // MMIO (reads 0) until the slot appears
            a.je(spin);
            a.@out(0xB1, al);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        using var running = new ManualResetEventSlim();
        var handler = new RecordingExitHandler { OnPort = p => { if (p.Port == 0xB0) running.Set(); } };

        var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
        Assert.True(running.Wait(Patience));
        m.Vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, flagPage));

        Assert.True(run.Wait(Patience), "the guest never saw the new slot");
        Assert.Equal(VcpuExit.Halted, run.Result);
        Assert.Equal([0xB0, 0xB1], handler.Ports.Select(p => (int)p.Port));
    }

    [AcceleratorFact]
    public void DeletingASlotWhileTheVcpuRunsLetsTheCallerUnmapItsMemoryAtOnce()
    {
        using var m = NewMachine();
        var slotMemory = HostMemory.Allocate(0x1000);
        m.Load(32, a =>
        {
            a.@out(0xC0, al);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.cmp(__byte_ptr[0x40_0000], 0); // RAM holding 0, then MMIO answering 1
            a.je(spin);
            a.hlt();
        });
        m.Vm.SetMemoryRegion(Memslot.For(1, 0x40_0000, slotMemory));
        m.EnterProtectedMode(TestMachine.CodeAddress);
        using var running = new ManualResetEventSlim();
        var handler = new RecordingExitHandler { OnPort = _ => running.Set(), MmioReadValue = _ => 1 };

        var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
        Assert.True(running.Wait(Patience));
        m.Vm.DeleteMemoryRegion(1);
        slotMemory.Dispose(); // after DeleteMemoryRegion no vCPU may touch it

        Assert.True(run.Wait(Patience));
        Assert.Equal(VcpuExit.Halted, run.Result);
        Assert.Contains(new MmioAccess(0x40_0000, false, 1, 1), handler.Mmio);
    }

    // ---- vCPUs, threads, kicks ----

    [AcceleratorFact]
    public void TwoVcpusOnTwoThreadsEachWriteTheirOwnMemory()
    {
        using var m = NewMachine();
        var second = m.Vm.CreateVcpu(1);
        const int iterations = 10_000;
        foreach (var (entry, target, value) in new[] { (0x1000UL, 0x10_0000UL, 0x11u), (0x3000UL, 0x11_0000UL, 0x22u) })
        {
            m.Load(32, a =>
            {
                a.mov(ecx, iterations);
                a.mov(edi, (uint)target);
                var loop = a.CreateLabel();
                a.Label(ref loop);
                a.mov(__dword_ptr[edi], value);
                a.add(edi, 4);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            }, entry);
        }
        m.Cpu.SetSpecialRegisters(m.ProtectedModeSregs());
        m.Cpu.SetRegisters(new Registers { Rip = 0x1000, Rflags = 2 });
        second.SetSpecialRegisters(m.ProtectedModeSregs());
        second.SetRegisters(new Registers { Rip = 0x3000, Rflags = 2 });

        var runs = new[] { m.Cpu, second }.Select(cpu => Task.Factory.StartNew(() => cpu.Run(new RecordingExitHandler()), TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(runs, Patience));
        Assert.All(runs, r => Assert.Equal(VcpuExit.Halted, r.Result));
        for (ulong i = 0; i < iterations; i++)
        {
            Assert.Equal(0x11u, m.Ram.Read<uint>(0x10_0000 + i * 4));
            Assert.Equal(0x22u, m.Ram.Read<uint>(0x11_0000 + i * 4));
        }
    }

    [AcceleratorFact]
    public void KickFromAnotherThreadInterruptsASpinningGuestAndRunContinuesAfterwards()
    {
        using var m = NewMachine();
        const ulong flag = 0x9000;
        m.Load(16, a =>
        {
            a.@out(0xD0, al);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.cmp(__byte_ptr[flag], 0);
            a.je(spin);
            a.@out(0xD1, al);
            a.hlt();
        });
        const ulong spinStart = TestMachine.CodeAddress + 2, spinEnd = spinStart + 7; // cmp byte [flag], 0 (5 bytes); je spin (2)
        m.EnterRealMode(TestMachine.CodeAddress);
        using var running = new ManualResetEventSlim();
        var handler = new RecordingExitHandler { OnPort = p => { if (p.Port == 0xD0) running.Set(); } };

        var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
        Assert.True(running.Wait(Patience));
        m.Cpu.Kick();
        Assert.True(run.Wait(Patience), "the kick did not stop the guest");
        Assert.Equal(VcpuExit.Kicked, run.Result);
        Assert.InRange(m.Cpu.GetRegisters().Rip, spinStart, spinEnd);

        m.Ram.Write<byte>(flag, 1);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([0xD0, 0xD1], handler.Ports.Select(p => (int)p.Port));
    }

    [AcceleratorFact]
    public void KickBeforeRunMakesTheNextRunReturnAtOnceAndIsThenCleared()
    {
        using var m = NewMachine();
        m.Load(16, a => { a.@out(0xE0, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();

        m.Cpu.Kick();
        m.Cpu.Kick();
        Assert.Equal(VcpuExit.Kicked, m.Cpu.Run(handler));
        Assert.Empty(handler.Ports);
        Assert.Equal(TestMachine.CodeAddress, m.Cpu.GetRegisters().Rip);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Single(handler.Ports);
    }

    [AcceleratorFact]
    public void KicksLeaveTheGuestExactlyBetweenInstructions()
    {
        using var m = NewMachine();
        const uint counter = 0x9000;
        m.Load(32, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(ecx);
            a.mov(__dword_ptr[counter], ecx);
            a.inc(ebx);
            a.mov(eax, __dword_ptr[counter]);
            a.add(edx, eax);
            a.jmp(loop);
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();
        for (int i = 0; i < 100; i++)
        {
            var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
            Thread.SpinWait(2000 + i * 100);
            m.Cpu.Kick();
            Assert.True(run.Wait(Patience));
            Assert.Equal(VcpuExit.Kicked, run.Result);
            var r = m.Cpu.GetRegisters();
            // Every instruction ran exactly once: no part of the loop was replayed after the kick.
            Assert.InRange(r.Rcx - r.Rbx, 0UL, 1UL);
            uint stored = m.Ram.Read<uint>(counter);
            Assert.True(stored == r.Rcx || stored + 1 == r.Rcx, $"counter {stored}, ecx {r.Rcx}");
        }
    }

    [AcceleratorFact]
    public void KicksAreNeverLostWhateverMomentTheyLand()
    {
        using var m = NewMachine();
        m.Load(16, a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler();
        for (int i = 0; i < 100; i++)
        {
            var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
            if (i % 2 == 1) Thread.SpinWait(i * 50);
            m.Cpu.Kick();
            Assert.True(run.Wait(Patience), $"kick {i} was lost");
            Assert.Equal(VcpuExit.Kicked, run.Result);
        }
    }
}
