using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;
using static Actorvisor.Actors.Tests.AsyncPf.ProtectedModeAsyncPfGuest;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// Guest-visible async page faults through the actor runtime on the software accelerator: a protected-mode guest
/// enables the protocol, reads a missing lazy page, takes "page not present" (#PF, token in CR2) and then the
/// page-ready vector once the VM's async-PF actors fetched the page.
/// </summary>
public class GuestVisibleAsyncPfTests(ITestOutputHelper output) : AsyncPfTestKit(output)
{
    private const ulong Area = GuestLayout.DataBase + 0x40;
    private const ulong NotPresentCount = GuestLayout.DataBase + 0x100;
    private const ulong NotPresentToken = GuestLayout.DataBase + 0x104;
    private const ulong ReadyCount = GuestLayout.DataBase + 0x108;
    private const ulong ReadyToken = GuestLayout.DataBase + 0x10c;
    private const ulong Value = GuestLayout.DataBase + 0x110;
    private const ulong ReadOffset = 5 * 4096 + 8;
    private const int Vector = 0xEC;

    private static GuestImage Guest()
    {
        var image = new byte[0x1008];
        Assemble(GuestLayout.ImageBase, a =>
        {
            var spin = a.CreateLabel();
            a.lidt(__fword_ptr[(uint)IdtPointer]);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfInterrupt, Vector);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, (uint)Area | (uint)(KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways | KvmParavirtMsrs.DeliveryAsInt));
            a.mov(__dword_ptr[(uint)(LocalApic.DefaultBase + ApicRegister.Svr)], 0x1FF);
            a.sti();
            a.mov(eax, __dword_ptr[(uint)(LazyGuests.LazyBase + ReadOffset)]);
            a.mov(__dword_ptr[(uint)Value], eax);
            a.xor(eax, eax);
            a.@out((byte)LazyGuests.DonePort, al);
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
        }).CopyTo(image, 0);
        var pfHandler = Assemble(PfHandler, a =>
        {
            var spin = a.CreateLabel();
            var notAsync = a.CreateLabel();
            a.push(eax);
            a.cmp(__dword_ptr[(uint)Area], 1);
            a.jne(notAsync);
            a.mov(__dword_ptr[(uint)Area], 0);
            a.mov(eax, cr2);
            a.mov(__dword_ptr[(uint)NotPresentToken], eax);
            a.inc(__dword_ptr[(uint)NotPresentCount]);
            a.sti();
            a.Label(ref spin);
            a.pause();
            a.cmp(__dword_ptr[(uint)ReadyCount], 0);
            a.je(spin);
            a.cli();
            a.pop(eax);
            a.add(esp, 4);
            a.iretd();
            a.Label(ref notAsync);
            a.hlt();
        });
        var readyHandler = Assemble(ReadyHandler, a =>
        {
            a.push(eax); a.push(ecx); a.push(edx);
            a.mov(eax, __dword_ptr[(uint)(Area + AsyncPfProtocol.TokenOffset)]);
            a.mov(__dword_ptr[(uint)ReadyToken], eax);
            a.inc(__dword_ptr[(uint)ReadyCount]);
            a.mov(__dword_ptr[(uint)(Area + AsyncPfProtocol.TokenOffset)], 0);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfAck, 1);
            a.mov(__dword_ptr[(uint)(LocalApic.DefaultBase + ApicRegister.Eoi)], 0);
            a.pop(edx); a.pop(ecx); a.pop(eax);
            a.iretd();
        });
        WireHandlers(image, pfHandler, readyHandler, Vector);
        return new GuestImage("async-pf-reader", image, GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, 1,
            "test guest: enables async PF, reads one missing lazy page, takes page-not-present and page-ready");
    }

    [Fact]
    public void The_guest_is_told_page_not_present_and_page_ready_for_the_same_token_and_reads_the_stores_bytes()
    {
        // The software accelerator's protocol (on KVM the kernel's async_pf.c does it: issue 15 point 6).
        var node = StartNode();
        var vm = CreateLazyVm(node, "guest-apf", Guest(), new PatternStore(), 16, accelerator: EveryFaultVisible());
        Start(vm.Vm);

        Assert.True(vm.Done.AllDone.Wait(Long), "the guest read its lazy page");
        var ram = vm.Machine.Memory;
        Assert.Equal(PatternStore.Expected(ReadOffset), ram.Read<uint>(Value));
        Assert.Equal(1u, ram.Read<uint>(NotPresentCount));
        Assert.Equal(1u, ram.Read<uint>(ReadyCount));
        uint token = ram.Read<uint>(NotPresentToken);
        Assert.NotEqual(0u, token);
        Assert.Equal(token, ram.Read<uint>(ReadyToken));
        var soft = Assert.IsType<SoftVcpu>(vm.Machine.Vcpus[0]);
        Assert.Equal(1, soft.AsyncPf.NotPresentSent);
        Assert.Equal(0, soft.AsyncPf.Outstanding);

        vm.Vm.Vm.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
    }
}
