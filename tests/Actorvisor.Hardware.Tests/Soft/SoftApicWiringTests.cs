using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// The local APICs wired into the software accelerator: long-mode guests with their own IDT program the xAPIC page
/// at 0xfee00000 (timer, EOI, ICR) and take its vectors through <see cref="IVirtualCpu.QueueExternalInterrupt"/>.
/// </summary>
public sealed class SoftApicWiringTests
{
    // A run takes ~20-50 ms of guest time plus engine start-up; 30 s survives a machine shared by many builds.
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    internal const ulong IdtAddress = 0x3000;
    private const ulong TimerHandler = 0x5000;
    private const ulong IpiHandler = 0x5100;
    private const ulong SecondCpuCode = 0x6000;
    private const ulong TickCounter = 0x9000;
    private const ulong IpiCounter = 0x9008;
    private const int TimerVector = 0x40;
    private const int IpiVector = 0x41;
    internal const ushort ExitPort = 0xf4;
    internal const ushort ReadyPort = 0xd1;

    internal static ulong Register(int offset) => LocalApic.DefaultBase + (ulong)offset;

    /// <summary>Gate <paramref name="vector"/> of a 64-bit IDT at <see cref="IdtAddress"/> leads to <paramref name="handler"/>.</summary>
    internal static void WriteGate(TestMachine m, int vector, ulong handler)
    {
        ulong at = IdtAddress + (ulong)vector * 16;
        m.Ram.Write(at, (handler & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48));
        m.Ram.Write(at + 8, handler >> 32);
    }

    internal static void UseIdt(IVirtualCpu cpu) =>
        cpu.SetSpecialRegisters(cpu.GetSpecialRegisters() with { Idt = new DescriptorTable(IdtAddress, 256 * 16 - 1) });

    /// <summary>Handler: increment the counter, EOI, iretq.</summary>
    private static void CountingHandler(Assembler a, ulong counter)
    {
        a.push(rax);
        a.mov(rax, counter);
        a.@lock.inc(__qword_ptr[rax]);
        a.mov(rax, Register(ApicRegister.Eoi));
        a.mov(__dword_ptr[rax], 0);
        a.pop(rax);
        a.iretq();
    }

    /// <summary>Guest code for WRMSR of <paramref name="value"/> into MSR <paramref name="index"/> (ECX, EDX:EAX).</summary>
    internal static void WriteMsr(Assembler a, uint index, ulong value)
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    /// <summary>Software-enables the APIC (SVR bit 8, spurious vector 0xff).</summary>
    internal static void EnableApic(Assembler a)
    {
        a.mov(rax, Register(ApicRegister.Svr));
        a.mov(__dword_ptr[rax], 0x1FF);
    }

    private sealed class Ports(ManualResetEventSlim ready) : IPortIoDevice
    {
        public string Name => "test-ports";

        public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
        {
            if (offset == 0) ready.Set();
            return offset == ExitPort - ReadyPort ? ExitAction.Stop : ExitAction.Continue;
        }
    }

    internal static DeviceBus BusFor(SoftVm vm, ManualResetEventSlim ready)
    {
        var bus = new DeviceBus();
        bus.RegisterMmio(LocalApic.DefaultBase, LocalApic.WindowSize, vm.ApicWindow);
        bus.RegisterPorts(ReadyPort, ExitPort - ReadyPort + 1, new Ports(ready));
        return bus;
    }

    internal static VcpuExit RunBounded(IVirtualCpu cpu, DeviceBus bus)
    {
        var run = Task.Factory.StartNew(() => cpu.Run(bus), TaskCreationOptions.LongRunning);
        if (!run.Wait(Patience))
        {
            cpu.Kick();
            Assert.Fail("the guest did not reach its exit port");
        }
        return run.Result;
    }

    [Fact]
    public void PeriodicTimerTicksReachTheGuestThroughItsIdtUntilItHasCountedThem()
    {
        const int ticks = 20;
        using var m = new TestMachine(new SoftAccelerator());
        var vm = (SoftVm)m.Vm;
        var cpu = (SoftVcpu)m.Cpu;
        m.Load(64, a =>
        {
            EnableApic(a);
            a.mov(rax, Register(ApicRegister.TimerDivide));
            a.mov(__dword_ptr[rax], 0xB); // divide by 1
            a.mov(rax, Register(ApicRegister.LvtTimer));
            a.mov(__dword_ptr[rax], TimerVector | (1 << 17)); // periodic, unmasked
            a.mov(rax, Register(ApicRegister.TimerInitialCount));
            a.mov(__dword_ptr[rax], 1_000_000); // 1 ms at the 1 GHz bus clock
            a.sti();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.mov(rax, TickCounter);
            a.cmp(__qword_ptr[rax], ticks);
            a.jb(spin);
            a.cli();
            a.@out((byte)ExitPort, al);
            a.hlt();
        });
        m.Load(64, a => CountingHandler(a, TickCounter), TimerHandler);
        m.EnterLongMode(TestMachine.CodeAddress);
        WriteGate(m, TimerVector, TimerHandler);
        UseIdt(cpu);
        using var ready = new ManualResetEventSlim();

        RunBounded(cpu, BusFor(vm, ready));

        ulong counted = m.Ram.Read<ulong>(TickCounter);
        // One more tick may land between the guest's last compare and its cli.
        Assert.InRange(counted, (ulong)ticks, (ulong)ticks + 1);
        Assert.True(cpu.Apic.TimerFirings >= ticks, $"{cpu.Apic.TimerFirings} timer firings");
        Assert.Equal((long)counted, cpu.Apic.Eois);
        Assert.Equal(0L, vm.ApicWindow.UnboundAccesses);
    }

    [Fact]
    public void AFixedIpiFromOneVcpuReachesTheOtherOnesHandler()
    {
        using var m = new TestMachine(new SoftAccelerator());
        var vm = (SoftVm)m.Vm;
        // vCPU 0 sends a fixed IPI to APIC ID 1 and leaves.
        m.Load(64, a =>
        {
            EnableApic(a);
            a.mov(rax, Register(ApicRegister.IcrHigh));
            a.mov(__dword_ptr[rax], 1 << 24);
            a.mov(rax, Register(ApicRegister.IcrLow));
            a.mov(__dword_ptr[rax], IpiVector); // fixed, physical, no shorthand
            a.@out((byte)ExitPort, al);
            a.hlt();
        });
        // vCPU 1 enables its APIC, says so, and waits with IF set until its handler has counted the IPI.
        m.Load(64, a =>
        {
            EnableApic(a);
            a.sti();
            a.@out((byte)ReadyPort, al);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.mov(rax, IpiCounter);
            a.cmp(__qword_ptr[rax], 0);
            a.je(spin);
            a.cli();
            a.@out((byte)ExitPort, al);
            a.hlt();
        }, SecondCpuCode);
        m.Load(64, a => CountingHandler(a, IpiCounter), IpiHandler);
        m.EnterLongMode(TestMachine.CodeAddress);
        WriteGate(m, IpiVector, IpiHandler);
        UseIdt(m.Cpu);
        using var second = (SoftVcpu)vm.CreateVcpu(1);
        second.SetSpecialRegisters(m.Cpu.GetSpecialRegisters());
        second.SetRegisters(m.Cpu.GetRegisters() with { Rip = SecondCpuCode, Rsp = 0xA000 });
        using var ready = new ManualResetEventSlim();
        var bus = BusFor(vm, ready);

        var receiver = Task.Factory.StartNew(() => second.Run(bus), TaskCreationOptions.LongRunning);
        Assert.True(ready.Wait(Patience), "vCPU 1 did not enable its APIC");
        RunBounded(m.Cpu, bus);
        if (!receiver.Wait(Patience))
        {
            second.Kick();
            Assert.Fail("vCPU 1 did not take the IPI");
        }

        Assert.Equal(1UL, m.Ram.Read<ulong>(IpiCounter));
        Assert.Equal(1L, ((SoftVcpu)m.Cpu).Apic.IpisSent);
        Assert.Equal(1L, second.Apic.Eois);
        Assert.Equal(0L, vm.ApicBus.UndeliveredIpis);
    }
}
