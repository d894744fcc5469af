using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>Behaviour specific to the software accelerator (Unicorn), beyond the common contract.</summary>
public sealed class SoftAcceleratorTests : IDisposable
{
    private readonly SoftAccelerator _accelerator = new();

    public void Dispose() => _accelerator.Dispose();

    [Fact]
    public void DescribesItselfWithUnicornsVersion()
    {
        Assert.Equal(AcceleratorKind.Software, _accelerator.Kind);
        Assert.Equal(2u, _accelerator.Version >> 24);
        Assert.Contains($"uc_version 0x{_accelerator.Version:x}", _accelerator.Description);
        Assert.Contains("Unicorn 2.", _accelerator.Description);
    }

    [Fact]
    public void AFailingUnicornCallNamesTheFunctionAndUcStrerror()
    {
        using var engine = UnicornEngine.Open(UnicornNative.UC_MODE_64);
        using var ram = HostMemory.Allocate(0x2000);

        var error = Assert.Throws<UnicornException>(() => engine.MapHostMemory(0x1001, 0x1000, UnicornNative.UC_PROT_ALL, ram.Address));
        Assert.Equal("uc_mem_map_ptr", error.Function);
        Assert.Equal(15, error.Error); // UC_ERR_ARG
        Assert.StartsWith("uc_mem_map_ptr failed: Invalid argument (UC_ERR_ARG)", error.Message);
        Assert.Contains("gpa 0x1001", error.Message);
    }

    [Fact]
    public void AfterAStopTheRestOfTheBlockRunsAndTheVcpuWaitsOnTheHlt()
    {
        using var m = new TestMachine(_accelerator);
        ulong end = m.Load(16, a => { a.mov(al, 1); a.@out(0x20, al); a.mov(al, 2); a.@out(0x21, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x20 } };

        Assert.Equal(new VcpuExit.PortIo(0x20, 1, IoDirection.Out, 1), m.Cpu.Run(handler));
        Assert.Equal(2, handler.Ports.Count); // the OUT to 0x21 shares the block and already ran
        Assert.Equal(end - 1, m.Cpu.GetRegisters().Rip); // stopped on the hlt, not past it
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(end, m.Cpu.GetRegisters().Rip);
    }

    [Fact]
    public void SeveralStopsInOneBlockAreReturnedOneRunEach()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(32, a =>
        {
            a.@out(0x20, al);
            a.mov(__dword_ptr[TestMachine.MmioAddress], 7);
            a.@in(al, 0x22);
            a.hlt();
        });
        m.EnterProtectedMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { StopPorts = { 0x20, 0x22 }, StopMmio = { TestMachine.MmioAddress }, InValues = { [0x22] = 9 } };

        Assert.Equal(new VcpuExit.PortIo(0x20, 1, IoDirection.Out, 0), m.Cpu.Run(handler));
        Assert.Equal(new VcpuExit.Mmio(TestMachine.MmioAddress, 4, true, 7), m.Cpu.Run(handler));
        Assert.Equal(new VcpuExit.PortIo(0x22, 1, IoDirection.In, 9), m.Cpu.Run(handler));
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(2, handler.Ports.Count);
        Assert.Single(handler.Mmio);
    }

    [Fact]
    public void ShutdownNamesTheExceptionAndWhereItHappened()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(16, a => { a.nop(); a.ud2(); });
        m.EnterRealMode(TestMachine.CodeAddress);

        var exit = Assert.IsType<VcpuExit.Shutdown>(m.Cpu.Run(new RecordingExitHandler()));
        Assert.Contains("#UD", exit.Reason);
        Assert.Contains("RIP 0x1001", exit.Reason);
    }

    [Fact]
    public void AGeneralProtectionFaultCarriesItsErrorCode()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(32, a => { a.mov(ax, 0x1234); a.mov(ds, ax); });
        m.EnterProtectedMode(TestMachine.CodeAddress);

        var exit = Assert.IsType<VcpuExit.Shutdown>(m.Cpu.Run(new RecordingExitHandler()));
        Assert.Contains("#GP (vector 13)", exit.Reason);
        Assert.Contains("error code 0x1234", exit.Reason);
    }

    [Fact]
    public void NonIdentityPagingIsReportedInsteadOfExecutingTheWrongBytes()
    {
        // Unicorn 2.0.1 maps every linear page to the physical page of the same number. A higher-half
        // mapping (PML4[511] -> PDPT[510] -> 2 MiB page at 0) must end the run with a clear error.
        using var m = new TestMachine(_accelerator);
        const ulong highHalf = 0xFFFF_FFFF_8000_0000;
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Ram.Write(TestMachine.PageTables + 511 * 8, 0x16000UL | 3);
        m.Ram.Write(0x16000UL + 510 * 8, 0x17000UL | 3);
        m.Ram.Write(0x17000UL, 0UL | 0x83);
        m.Load(64, a => { a.mov(rax, highHalf + 0x2000); a.jmp(rax); });
        m.Load(64, a => a.hlt(), address: 0x2000);
        var handler = new RecordingExitHandler();

        var exit = Assert.IsType<VcpuExit.InternalError>(m.Cpu.Run(handler));
        Assert.Contains("linear 0xffffffff80002000", exit.Reason);
        Assert.Contains("guest-physical 0x2000", exit.Reason);
        Assert.Contains("identity", exit.Reason);
        Assert.Empty(handler.Mmio);
    }

    [Fact]
    public void FetchingFromAPageTheTablesDoNotMapIsAPageFault()
    {
        using var m = new TestMachine(_accelerator);
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Load(64, a => { a.mov(rax, 0x1_0000_0000UL); a.jmp(rax); }); // above the identity-mapped 4 GiB

        var exit = Assert.IsType<VcpuExit.Shutdown>(m.Cpu.Run(new RecordingExitHandler()));
        Assert.Contains("#PF", exit.Reason);
    }

    [Fact]
    public void EightByteMmioAccessesReachTheHandlerAsTwoDwords()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(64, a =>
        {
            a.mov(rbx, TestMachine.MmioAddress);
            a.mov(rax, 0x1122_3344_5566_7788);
            a.mov(__qword_ptr[rbx], rax);
            a.mov(rcx, __qword_ptr[rbx + 8]);
            a.hlt();
        });
        m.EnterLongMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { MmioReadValue = gpa => gpa == TestMachine.MmioAddress + 8 ? 0xAAAA_BBBB : 0xCCCC_DDDD };

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal(
            [
                new(TestMachine.MmioAddress, true, 4, 0x5566_7788), new(TestMachine.MmioAddress + 4, true, 4, 0x1122_3344),
                new(TestMachine.MmioAddress + 8, false, 4, 0xAAAA_BBBB), new(TestMachine.MmioAddress + 12, false, 4, 0xCCCC_DDDD),
            ],
            handler.Mmio);
        Assert.Equal(0xCCCC_DDDD_AAAA_BBBBUL, m.Cpu.GetRegisters().Rcx);
    }

    [Fact]
    public void TheManagedBlockHookStopsKicksLikeTheNativeOne()
    {
        SoftExitHooks.PreferNativeStopHooks = false;
        try
        {
            using var m = new TestMachine(_accelerator);
            m.Load(16, a => { var spin = a.CreateLabel(); a.Label(ref spin); a.inc(ecx); a.jmp(spin); });
            m.EnterRealMode(TestMachine.CodeAddress);
            m.Cpu.Kick();
            Assert.Equal(VcpuExit.Kicked, m.Cpu.Run(new RecordingExitHandler())); // engine built with the managed hook
            var run = Task.Factory.StartNew(() => m.Cpu.Run(new RecordingExitHandler()), TaskCreationOptions.LongRunning);
            Thread.SpinWait(10_000);
            m.Cpu.Kick();
            Assert.True(run.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(VcpuExit.Kicked, run.Result);
        }
        finally
        {
            SoftExitHooks.PreferNativeStopHooks = true;
        }
    }

    [Fact]
    public void ADisposedVcpuLeavesRunAndRefusesTheNextOne()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(16, a => { a.@out(0x10, al); var spin = a.CreateLabel(); a.Label(ref spin); a.jmp(spin); });
        m.EnterRealMode(TestMachine.CodeAddress);
        using var running = new ManualResetEventSlim();
        var handler = new RecordingExitHandler { OnPort = _ => running.Set() };

        var run = Task.Factory.StartNew(() => m.Cpu.Run(handler), TaskCreationOptions.LongRunning);
        Assert.True(running.Wait(TimeSpan.FromSeconds(10)));
        m.Cpu.Dispose();
        Assert.True(run.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(VcpuExit.Kicked, run.Result);
        Assert.Throws<ObjectDisposedException>(() => m.Cpu.Run(handler));
    }

    [Fact]
    public void AHandlerExceptionLeavesTheVcpuUsable()
    {
        using var m = new TestMachine(_accelerator);
        m.Load(16, a => { a.@out(0x42, al); a.hlt(); });
        m.EnterRealMode(TestMachine.CodeAddress);
        var handler = new RecordingExitHandler { ThrowOnPort = (0x42, new InvalidOperationException("device failed")) };

        Assert.Throws<InvalidOperationException>(() => m.Cpu.Run(handler));
        m.EnterRealMode(TestMachine.CodeAddress);
        handler.ThrowOnPort = null;
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(handler));
        Assert.Equal([new(0x42, IoDirection.Out, 1, 0)], handler.Ports);
    }

    [Fact]
    public void ASlotAboveTheGuestPhysicalTopIsRefused()
    {
        using var vm = _accelerator.CreateVm();
        using var ram = HostMemory.Allocate(0x2000);
        var error = Assert.Throws<MemslotException>(() => vm.SetMemoryRegion(Memslot.For(3, 0xFFFF_FFFF_FFFF_E000, ram)));
        Assert.Contains("memslot 3", error.Message);
        Assert.Equal(0, vm.Memslots.Count);
    }

    [Fact]
    public void TheRawExitLoopCountsEveryExit()
    {
        Assert.True(SoftRawExitLoop.Measure(10_000) > 0);
    }

    [Fact]
    public void TheAsyncPageFaultMsrsAreKeptPerVcpuAndRefuseReservedBits()
    {
        using var m = new TestMachine(_accelerator);
        const ulong idt = 0x3000;
        m.Load(64, a =>
        {
            a.mov(ecx, KvmParavirtMsrs.AsyncPfInterrupt); a.mov(eax, 0xEC); a.xor(edx, edx); a.wrmsr();
            a.xor(eax, eax); a.rdmsr(); a.mov(r8, rax);
            a.mov(ecx, KvmParavirtMsrs.AsyncPfEnable); a.mov(eax, 0x5000 | 0x9); a.wrmsr();
            a.xor(eax, eax); a.rdmsr(); a.mov(r9, rax);
            a.mov(ecx, KvmParavirtMsrs.AsyncPfAck); a.mov(eax, 1); a.wrmsr(); a.rdmsr(); a.mov(r10, rax);
            a.mov(ecx, KvmParavirtMsrs.AsyncPfEnable); a.mov(eax, 0x5000 | 0x31); a.wrmsr(); // reserved bits 4-5: #GP
            a.hlt();
        });
        m.EnterLongMode(TestMachine.CodeAddress);
        ulong handler = 0x4000;
        m.Ram.Write(idt + 13 * 16, (handler & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48));
        m.Ram.Write(idt + 13 * 16 + 8, 0UL);
        m.Ram.Write<byte>(handler, 0xF4);
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Idt = new(idt, 16 * 14 - 1) });
        using var second = new TestMachine(_accelerator);
        second.Load(64, a => { a.mov(ecx, KvmParavirtMsrs.AsyncPfInterrupt); a.mov(eax, 0xFF); a.rdmsr(); a.hlt(); });
        second.EnterLongMode(TestMachine.CodeAddress);

        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(new RecordingExitHandler()));
        var r = m.Cpu.GetRegisters();
        Assert.Equal(handler + 1, r.Rip); // the reserved-bit write took #GP
        Assert.Equal((0xECUL, 0x5009UL, 0UL), (r.R8, r.R9, r.R10));
        Assert.Equal(VcpuExit.Halted, second.Cpu.Run(new RecordingExitHandler()));
        Assert.Equal(0UL, second.Cpu.GetRegisters().Rax); // another vCPU's table is its own
    }

    [Fact]
    public void TheInterruptWindowIsWatchedOnlyWhileAnInterruptWaits()
    {
        using var m = new TestMachine(_accelerator);
        const ulong idt = 0x3000, handler = 0x4000;
        m.Load(64, a => { a.@out(0x10, al); a.sti(); a.nop(); a.hlt(); });
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Ram.Write(idt + 0x30 * 16, (handler & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48));
        m.Ram.Write(idt + 0x30 * 16 + 8, 0UL);
        m.Ram.Write<byte>(handler, 0xF4);
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Idt = new(idt, 16 * 0x31 - 1) });
        var cpu = (SoftVcpu)m.Cpu;
        var exits = new RecordingExitHandler { StopPorts = { 0x10 } };

        Assert.IsType<VcpuExit.PortIo>(m.Cpu.Run(exits));
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(exits));
        // The hook comes with the engine (QEMU only calls hooks that existed when it translated a block); idle while nothing waits.
        Assert.False(cpu.InterruptWindowWatchedForTest);
        m.EnterLongMode(TestMachine.CodeAddress);
        m.Cpu.SetSpecialRegisters(m.Cpu.GetSpecialRegisters() with { Idt = new(idt, 16 * 0x31 - 1) });
        m.Cpu.QueueExternalInterrupt(0x30);
        Assert.IsType<VcpuExit.PortIo>(m.Cpu.Run(exits)); // IF=0: the interrupt waits
        Assert.True(cpu.InterruptWindowWatchedForTest);
        Assert.Equal(VcpuExit.Halted, m.Cpu.Run(exits));
        Assert.Equal(handler + 1, m.Cpu.GetRegisters().Rip);
        Assert.False(cpu.InterruptWindowWatchedForTest);
    }

    [Fact]
    public void AnInterruptFromProtectedModeUserCodeRunsOnTheTss32Stack() =>
        AcceleratorContractTests.InterruptFromUserMode(new TestMachine(_accelerator), longMode: false);
}
