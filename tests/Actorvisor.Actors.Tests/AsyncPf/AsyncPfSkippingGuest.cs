using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.AsyncPf;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static Actorvisor.Actors.Tests.AsyncPf.ProtectedModeAsyncPfGuest;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>What <see cref="AsyncPfSkippingGuest"/> does once it has walked its pages.</summary>
public enum AfterWalk
{
    /// <summary>Waits with interrupts on until it took as many "page ready" as "page not present", then exits.</summary>
    WaitForEveryReady,

    /// <summary>Disables the protocol (MSR_KVM_ASYNC_PF_EN = 0), raises its Disabled flag, waits for the test's Go, reads every page again and exits.</summary>
    DisableThenReadAgain,

    /// <summary>Spins with interrupts on for good (until the VM is destroyed).</summary>
    Spin,
}

/// <summary>
/// A protected-mode test guest that keeps many async page faults outstanding: it enables the protocol (SEND_ALWAYS,
/// interrupts on) and reads the first dword of each of its lazy pages in turn. Its #PF handler takes a "page not
/// present" by skipping the load (the saved EIP moves past it, the loaded value counts as 0), so the guest goes on
/// to the next page with the token outstanding; a load the vCPU resolves synchronously adds the page's dword to its
/// sum. The page-ready handler counts and sums the tokens it is given, frees the area's token, ACKs and EOIs. Its
/// counters live in ordinary RAM (addresses below); it exits with 0 through <see cref="LazyGuests.DonePort"/>.
/// </summary>
public static class AsyncPfSkippingGuest
{
    /// <summary>The page-ready vector.</summary>
    public const int Vector = 0xEC;


    /// <summary>The protocol's area (flags, token).</summary>
    public const ulong Area = GuestLayout.DataBase + 0x40;

    /// <summary>Dword: "page not present" events taken.</summary>
    public const ulong NotPresentCount = GuestLayout.DataBase + 0x100;

    /// <summary>Dword: the sum of their tokens (CR2).</summary>
    public const ulong NotPresentTokenSum = GuestLayout.DataBase + 0x104;

    /// <summary>Dword: "page ready" events taken.</summary>
    public const ulong ReadyCount = GuestLayout.DataBase + 0x108;

    /// <summary>Dword: the sum of their tokens.</summary>
    public const ulong ReadyTokenSum = GuestLayout.DataBase + 0x10c;

    /// <summary>Dword: loads done or skipped in the first walk.</summary>
    public const ulong Walked = GuestLayout.DataBase + 0x110;

    /// <summary>Dword: the sum of the dwords the first walk loaded (skipped loads count 0).</summary>
    public const ulong FirstSum = GuestLayout.DataBase + 0x114;

    /// <summary>Dword: 1 once the guest disabled the protocol (<see cref="AfterWalk.DisableThenReadAgain"/>).</summary>
    public const ulong Disabled = GuestLayout.DataBase + 0x118;

    /// <summary>Dword the test sets to let the second walk start.</summary>
    public const ulong Go = GuestLayout.DataBase + 0x11c;

    /// <summary>Dword: the sum of the second walk.</summary>
    public const ulong SecondSum = GuestLayout.DataBase + 0x120;

    /// <summary>Dword: CR2 of a #PF that was not an async "page not present" (the guest then halts).</summary>
    public const ulong UnexpectedFault = GuestLayout.DataBase + 0x124;

    // EDI pages from LazyBase, each first dword added to [sum]; the load is the 2-byte "mov eax,[esi]" the #PF handler skips.
    private static void Walk(Assembler a, int pages, ulong sum, ulong? counter)
    {
        var next = a.CreateLabel();
        a.mov(esi, (uint)LazyGuests.LazyBase);
        a.mov(edi, (uint)pages);
        a.Label(ref next);
        a.mov(eax, __dword_ptr[esi]);
        a.add(__dword_ptr[(uint)sum], eax);
        if (counter is { } c) a.inc(__dword_ptr[(uint)c]);
        a.add(esi, 4096);
        a.dec(edi);
        a.jnz(next);
    }

    /// <summary>The guest over <paramref name="pages"/> lazy pages from <see cref="LazyGuests.LazyBase"/>, ending as <paramref name="after"/> says.</summary>
    public static GuestImage Build(int pages, AfterWalk after)
    {
        var image = new byte[0x1008];
        var main = Assemble(GuestLayout.ImageBase, a =>
        {
            var spin = a.CreateLabel();
            var exit = a.CreateLabel();
            a.lidt(__fword_ptr[(uint)IdtPointer]);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfInterrupt, Vector);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, (uint)Area | (uint)(KvmParavirtMsrs.Enabled | KvmParavirtMsrs.SendAlways | KvmParavirtMsrs.DeliveryAsInt));
            a.mov(__dword_ptr[(uint)(LocalApic.DefaultBase + ApicRegister.Svr)], 0x1FF);
            a.sti();
            Walk(a, pages, FirstSum, Walked);
            switch (after)
            {
                case AfterWalk.WaitForEveryReady:
                    var wait = a.CreateLabel();
                    a.Label(ref wait);
                    a.pause();
                    a.mov(eax, __dword_ptr[(uint)ReadyCount]);
                    a.cmp(eax, __dword_ptr[(uint)NotPresentCount]);
                    a.jne(wait);
                    a.jmp(exit);
                    break;
                case AfterWalk.DisableThenReadAgain:
                    var go = a.CreateLabel();
                    WriteMsr(a, KvmParavirtMsrs.AsyncPfEnable, 0);
                    a.mov(__dword_ptr[(uint)Disabled], 1);
                    a.Label(ref go);
                    a.pause();
                    a.cmp(__dword_ptr[(uint)Go], 0);
                    a.je(go);
                    Walk(a, pages, SecondSum, null);
                    a.jmp(exit);
                    break;
                case AfterWalk.Spin:
                    a.jmp(spin);
                    break;
            }
            a.Label(ref exit);
            a.xor(eax, eax);
            a.@out((byte)LazyGuests.DonePort, al);
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
        });
        if (main.Length > (int)(PfHandler - GuestLayout.ImageBase)) throw new InvalidOperationException($"main code of {main.Length} bytes overlaps the #PF handler");
        main.CopyTo(image, 0);
        var pfHandler = Assemble(PfHandler, a =>
        {
            var notAsync = a.CreateLabel();
            a.push(eax);
            a.cmp(__dword_ptr[(uint)Area], AsyncPfProtocol.PageNotPresentReason);
            a.jne(notAsync);
            a.mov(__dword_ptr[(uint)Area], 0);
            a.mov(eax, cr2);
            a.add(__dword_ptr[(uint)NotPresentTokenSum], eax);
            a.inc(__dword_ptr[(uint)NotPresentCount]);
            // Frame: saved EAX, error code, EIP. The skipped load yields 0 and EIP moves past its 2 bytes.
            a.mov(__dword_ptr[esp], 0);
            a.add(__dword_ptr[esp + 8], 2);
            a.pop(eax);
            a.add(esp, 4);
            a.iretd();
            a.Label(ref notAsync);
            a.mov(eax, cr2);
            a.mov(__dword_ptr[(uint)UnexpectedFault], eax);
            a.hlt();
        });
        var readyHandler = Assemble(ReadyHandler, a =>
        {
            a.push(eax); a.push(ecx); a.push(edx);
            a.mov(eax, __dword_ptr[(uint)(Area + AsyncPfProtocol.TokenOffset)]);
            a.add(__dword_ptr[(uint)ReadyTokenSum], eax);
            a.inc(__dword_ptr[(uint)ReadyCount]);
            a.mov(__dword_ptr[(uint)(Area + AsyncPfProtocol.TokenOffset)], 0);
            WriteMsr(a, KvmParavirtMsrs.AsyncPfAck, 1);
            a.mov(__dword_ptr[(uint)(LocalApic.DefaultBase + ApicRegister.Eoi)], 0);
            a.pop(edx); a.pop(ecx); a.pop(eax);
            a.iretd();
        });
        WireHandlers(image, pfHandler, readyHandler, Vector);
        return new GuestImage($"async-pf-skipper-{after}", image, GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, 1,
            $"test guest: reads {pages} lazy pages, skipping each load told 'page not present', then {after}");
    }
}
