using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Tests.Contract;
using Actorvisor.Hardware.Tests.Lazy;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Actorvisor.Hardware.Tests.Soft.SoftApicWiringTests;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Soft;

/// <summary>
/// "Page not present" on the software accelerator: a long-mode guest with the protocol enabled reads a missing
/// lazy page; its vCPU does not block but takes #PF with the token in CR2 and keeps running the handler, which
/// sleeps with IF=1 until the page-ready for that token arrives; the host fetches the page only once the guest
/// has signalled from inside its #PF handler (so the vCPU provably ran on while the page was missing). Every block is
/// precise from the start (<see cref="SoftAccelerator.PreciseEverywhere"/>): by default the guest's one read, the first
/// of its block, would block and only teach the vCPU that block.
/// </summary>
public sealed class SoftAsyncPfNotPresentTests
{
    private const ulong Area = 0x9040;
    private const ulong PfHandler = 0x5200;
    private const ulong ReadyHandler = 0x5400;
    private const ulong NotPresentCount = 0x9000;
    private const ulong NotPresentToken = 0x9008;
    private const ulong ReadyCount = 0x9010;
    private const ulong ReadyToken = 0x9018;
    private const ulong ErrorCode = 0x9020;
    private const ulong Result = 0x9028;
    private const ulong LazyBase = 0x4000_0000;
    private const ulong LazySize = 0x10000;
    private const ulong ReadOffset = 0x3008;
    private const int Vector = 0xEC;

    private const ulong Stored = 0x1122_3344_5566_7788;

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void AMissingLazyPageIsAnnouncedAndTheVcpuRunsOnUntilItIsReady(bool interruptsOn, bool write)
    {
        using var image = new TempImage((int)LazySize, seed: 5);
        using var store = FileBackingStore.Open(image.Path);
        using var lazy = LazyGuestMemory.Create(LazySize, new SynchronousPageResolver(store));
        using var m = new TestMachine(new SoftAccelerator { PreciseEverywhere = true });
        m.Vm.SetMemoryRegion(lazy.ToMemslot(1, LazyBase));
        var cpu = (SoftVcpu)m.Cpu;
        m.Load(64, a =>
        {
            WriteMsr(a, KvmParavirtMsrs.AsyncPfInterrupt, Vector);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, Area | KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways | KvmParavirtMsrs.DeliveryAsInt);
            EnableApic(a);
            if (interruptsOn) a.sti();
            a.mov(rbx, LazyBase + ReadOffset);
            if (write)
            {
                // Refused while the page is missing (RIP stays on it), retried after the page-ready.
                a.mov(rax, Stored);
                a.mov(__qword_ptr[rbx], rax);
            }
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(rcx, Result);
            a.mov(__qword_ptr[rcx], rax);
            a.cli();
            a.@out((byte)ExitPort, al);
            a.hlt();
        });
        // #PF: an async one (flags = 1) records CR2 and the error code, frees the flags, tells the host, then waits
        // with IF=1 for the page-ready and returns to retry the access; any other #PF halts here.
        m.Load(64, a =>
        {
            var notAsync = a.CreateLabel();
            var spin = a.CreateLabel();
            a.push(rax); a.push(rbx); a.push(rcx);
            a.mov(rbx, Area);
            a.cmp(__dword_ptr[rbx], 1);
            a.jne(notAsync);
            a.mov(__dword_ptr[rbx], 0);
            a.mov(rax, cr2);
            a.mov(rcx, NotPresentToken);
            a.mov(__qword_ptr[rcx], rax);
            a.mov(rax, __qword_ptr[rsp + 24]);
            a.mov(rcx, ErrorCode);
            a.mov(__qword_ptr[rcx], rax);
            a.mov(rcx, NotPresentCount);
            a.inc(__qword_ptr[rcx]);
            a.@out((byte)ReadyPort, al);
            a.sti();
            a.Label(ref spin);
            a.pause();
            a.mov(rcx, ReadyCount);
            a.cmp(__qword_ptr[rcx], 0);
            a.je(spin);
            a.cli();
            a.pop(rcx); a.pop(rbx); a.pop(rax);
            a.add(rsp, 8);
            a.iretq();
            a.Label(ref notAsync);
            a.hlt();
        }, PfHandler);
        m.Load(64, a =>
        {
            a.push(rax); a.push(rbx); a.push(rcx); a.push(rdx);
            a.mov(rbx, Area + AsyncPfProtocol.TokenOffset);
            a.mov(eax, __dword_ptr[rbx]);
            a.mov(rcx, ReadyToken);
            a.mov(__qword_ptr[rcx], rax);
            a.mov(rcx, ReadyCount);
            a.inc(__qword_ptr[rcx]);
            a.mov(__dword_ptr[rbx], 0);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfAck, 1);
            a.mov(rax, Register(ApicRegister.Eoi));
            a.mov(__dword_ptr[rax], 0);
            a.pop(rdx); a.pop(rcx); a.pop(rbx); a.pop(rax);
            a.iretq();
        }, ReadyHandler);
        m.EnterLongMode(TestMachine.CodeAddress);
        WriteGate(m, 14, PfHandler);
        WriteGate(m, Vector, ReadyHandler);
        UseIdt(cpu);
        using var signalled = new ManualResetEventSlim();
        var fetches = new List<Task>();
        cpu.AsyncPageFetcher = (gpa, token) => fetches.Add(Task.Run(() =>
        {
            // The page stays missing until the guest has run its #PF handler up to the signal.
            if (!signalled.Wait(Patience)) return;
            GuestMemoryAccess.Prefault(lazy.Address + (nint)(gpa - LazyBase));
            cpu.AsyncPf.PageReady(token);
        }));

        RunBounded(cpu, BusFor((SoftVm)m.Vm, signalled));

        Assert.Equal(write ? Stored : BitConverter.ToUInt64(image.Bytes, (int)ReadOffset), m.Ram.Read<ulong>(Result));
        if (!interruptsOn)
        {
            // IF=0: the guest cannot take it, so the vCPU resolves the fault synchronously, as without the protocol.
            Assert.Equal(0UL, m.Ram.Read<ulong>(NotPresentCount));
            Assert.Equal(0, cpu.AsyncPf.NotPresentSent);
            Assert.Empty(fetches);
            return;
        }
        Assert.Single(fetches);
        Assert.True(fetches[0].Wait(Patience));
        Assert.Equal(1UL, m.Ram.Read<ulong>(NotPresentCount));
        Assert.Equal(1UL, m.Ram.Read<ulong>(ReadyCount));
        ulong token = m.Ram.Read<ulong>(NotPresentToken);
        Assert.NotEqual(0UL, token);
        Assert.Equal(token, m.Ram.Read<ulong>(ReadyToken));
        Assert.Equal(0UL, m.Ram.Read<ulong>(ErrorCode));
        Assert.Equal(0, cpu.AsyncPf.Outstanding);
    }
}
