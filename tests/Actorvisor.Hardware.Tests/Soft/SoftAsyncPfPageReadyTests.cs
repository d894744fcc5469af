using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Actorvisor.Hardware.Tests.Soft.SoftApicWiringTests;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// "Page ready" on the software accelerator, end to end: a long-mode guest enables the async-PF protocol with its
/// MSRs, and the page-ready events the host reports reach its IDT through the vCPU's local APIC, one at a time
/// until the guest frees the area's token and ACKs.
/// </summary>
public sealed class SoftAsyncPfPageReadyTests
{
    private const ulong Area = 0x9040;
    private const ulong Handler = 0x5200;
    private const ulong ReadyCount = 0x9000;
    private const ulong LastToken = 0x9008;
    private const int Vector = 0xEC;

    /// <summary>
    /// Runs a guest that enables the protocol and the APIC, signals the host, and exits once its page-ready handler
    /// has run <paramref name="expected"/> times; the handler records the token and, if <paramref name="ack"/>,
    /// frees it and writes MSR_KVM_ASYNC_PF_ACK. The host sends <paramref name="sent"/> wakeup-alls after the signal.
    /// </summary>
    private static (TestMachine Machine, SoftVcpu Cpu) Run(int sent, int expected, bool ack)
    {
        var m = new TestMachine(new SoftAccelerator());
        var cpu = (SoftVcpu)m.Cpu;
        m.Load(64, a =>
        {
            WriteMsr(a, KvmParavirtMsrs.AsyncPfInterrupt, Vector);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, Area | KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways | KvmParavirtMsrs.DeliveryAsInt);
            EnableApic(a);
            a.sti();
            a.@out((byte)ReadyPort, al);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.mov(rax, ReadyCount);
            a.cmp(__qword_ptr[rax], expected);
            a.jb(spin);
            a.cli();
            a.@out((byte)ExitPort, al);
            a.hlt();
        });
        m.Load(64, a =>
        {
            a.push(rax); a.push(rcx); a.push(rdx); a.push(rbx);
            a.mov(rbx, Area + AsyncPfProtocol.TokenOffset);
            a.mov(eax, __dword_ptr[rbx]);
            a.mov(rcx, LastToken);
            a.mov(__qword_ptr[rcx], rax);
            a.mov(rcx, ReadyCount);
            a.inc(__qword_ptr[rcx]);
            if (ack)
            {
                a.mov(__dword_ptr[rbx], 0);
                WriteMsr(a, KvmParavirtMsrs.AsyncPfAck, 1);
            }
            a.mov(rax, Register(ApicRegister.Eoi));
            a.mov(__dword_ptr[rax], 0);
            a.pop(rbx); a.pop(rdx); a.pop(rcx); a.pop(rax);
            a.iretq();
        }, Handler);
        m.EnterLongMode(TestMachine.CodeAddress);
        WriteGate(m, Vector, Handler);
        UseIdt(cpu);
        using var ready = new ManualResetEventSlim();
        var bus = BusFor((SoftVm)m.Vm, ready);

        var run = Task.Factory.StartNew(() => cpu.Run(bus), TaskCreationOptions.LongRunning);
        Assert.True(ready.Wait(Patience), "the guest did not enable the protocol");
        Assert.True(cpu.AsyncPf.IsEnabled);
        for (int i = 0; i < sent; i++) cpu.AsyncPf.WakeupAll();
        if (!run.Wait(Patience))
        {
            cpu.Kick();
            Assert.Fail("the guest did not count its page-ready events");
        }
        return (m, cpu);
    }

    [Fact]
    public void PageReadyEventsReachTheGuestOneAfterAnotherAsItAcksThem()
    {
        var (m, cpu) = Run(sent: 3, expected: 3, ack: true);
        using var _ = m;
        Assert.Equal(3UL, m.Ram.Read<ulong>(ReadyCount));
        Assert.Equal((ulong)AsyncPfProtocol.WakeupAllToken, m.Ram.Read<ulong>(LastToken));
        Assert.Equal(3, cpu.AsyncPf.ReadySent);
        Assert.Equal(0, cpu.AsyncPf.Queued);
        Assert.Equal(3, cpu.Apic.Eois);
        Assert.Equal(0u, m.Ram.Read<uint>(Area + AsyncPfProtocol.TokenOffset));
    }

    [Fact]
    public void AGuestThatNeverAcksGetsNoSecondPageReady()
    {
        var (m, cpu) = Run(sent: 2, expected: 1, ack: false);
        using var _ = m;
        Assert.Equal(1UL, m.Ram.Read<ulong>(ReadyCount));
        Assert.Equal(1, cpu.AsyncPf.ReadySent);
        Assert.Equal(1, cpu.AsyncPf.Queued);
        Assert.Equal(AsyncPfProtocol.WakeupAllToken, m.Ram.Read<uint>(Area + AsyncPfProtocol.TokenOffset));
    }

    [Fact]
    public void DisposingTheVcpuFlushesItsQueueAndWritesNothingMore()
    {
        var (m, cpu) = Run(sent: 2, expected: 1, ack: false);
        using var _ = m;
        m.Ram.Write<uint>(Area + AsyncPfProtocol.TokenOffset, 0);
        cpu.Dispose();
        cpu.AsyncPf.Acknowledge(1);
        cpu.AsyncPf.WakeupAll();
        Assert.Equal(0, cpu.AsyncPf.Queued);
        Assert.Equal(1, cpu.AsyncPf.ReadySent);
        Assert.Equal(0u, m.Ram.Read<uint>(Area + AsyncPfProtocol.TokenOffset));
    }
}
