using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Kvm.Tests;

/// <summary>
/// A guest on the PC platform that enables the 16550's THR-empty interrupt and counts IRQ 4 deliveries through the
/// in-kernel PIC (LINT0 ExtINT): each handler acknowledges the interrupt (IIR), sends a byte (the next THR-empty
/// edge) and EOIs, until it has counted <see cref="Deliveries"/>; the guest then writes the count to debug-exit.
/// </summary>
public sealed class UartInterruptGuestTests
{
    private const int Deliveries = 5;
    private const ulong CodeAddress = 0x10_0000;
    private const ulong HandlerAddress = CodeAddress + 0x800;
    private const uint IdtAddress = 0x20_0000;
    private const uint IdtrAddress = 0x1f_f000;
    private const byte PicVectorBase = 0x20;

    [Fact]
    public void The_thr_empty_interrupt_reaches_the_guest_on_irq_4_once_per_byte()
    {
        var main = GuestCode.Assemble(32, CodeAddress, BuildMain);
        Assert.True(main.Length <= (int)(HandlerAddress - CodeAddress), $"main is {main.Length} bytes");
        var code = new byte[HandlerAddress - CodeAddress];
        main.CopyTo(code, 0);
        code = [.. code, .. GuestCode.Assemble(32, HandlerAddress, BuildHandler)];
        using var accel = KvmAccelerator.Open();
        using var machine = Machine.Create(accel, new MachineSpec { Image = new PcFlatImage("uart-irq-guest", code), MemoryBytes = 4UL << 20 });
        // Measured: well under a second nested; the bound only catches a guest that never sees its interrupt.
        var result = machine.Run(TimeSpan.FromSeconds(60));
        Assert.True(result.Outcome == MachineOutcome.Exited, $"{result}; console: {result.ConsoleOutput}");
        Assert.Equal(Deliveries, result.ResultCode);
        Assert.Equal(new string('.', Deliveries - 1), result.ConsoleOutput);
        Assert.Equal(Deliveries, machine.Serial.InterruptsRaised);
    }

    private static void BuildMain(Assembler a)
    {
        var wait = a.CreateLabel();
        var done = a.CreateLabel();

        // The master PIC: vectors from 0x20, IRQ 4 the only one unmasked; the slave fully masked.
        void Out8(ushort port, byte value)
        {
            a.mov(al, value);
            a.@out((byte)port, al);
        }
        Out8(0x20, 0x11); Out8(0x21, PicVectorBase); Out8(0x21, 0x04); Out8(0x21, 0x01); Out8(0x21, 0xef);
        Out8(0xa0, 0x11); Out8(0xa1, 0x28); Out8(0xa1, 0x02); Out8(0xa1, 0x01); Out8(0xa1, 0xff);

        // IDT gate for vector 0x24: a 32-bit interrupt gate to the handler in the flat code segment.
        a.mov(eax, (uint)HandlerAddress);
        a.mov(edx, eax);
        a.and(eax, 0xffff);
        a.or(eax, BootGdt.Code32Selector << 16);
        a.and(edx, unchecked((int)0xffff_0000));
        a.or(edx, 0x8e00);
        a.mov(__dword_ptr[IdtAddress + (PicVectorBase + 4) * 8], eax);
        a.mov(__dword_ptr[IdtAddress + (PicVectorBase + 4) * 8 + 4], edx);
        a.mov(__word_ptr[IdtrAddress], 0x7ff);
        a.mov(__dword_ptr[IdtrAddress + 2], IdtAddress);
        a.lidt(__[IdtrAddress]);

        a.xor(ebx, ebx);
        a.mov(dx, 0x3f9);
        a.mov(al, 0x02); // IER: THR empty
        a.@out(dx, al);
        // Check with interrupts off, then STI; HLT: STI's one-instruction shadow lets no interrupt land between the
        // check and the halt (where it would leave the guest halted with nothing more to come).
        a.Label(ref wait);
        a.cli();
        a.cmp(ebx, Deliveries);
        a.jae(done);
        a.sti();
        a.hlt();
        a.jmp(wait);
        a.Label(ref done);
        a.mov(eax, ebx);
        a.@out(0xf4, al);
        a.hlt();
    }

    // The IRQ 4 handler (vector 0x24): counts in EBX.
    private static void BuildHandler(Assembler a)
    {
        var noMore = a.CreateLabel();
        a.push(eax);
        a.push(edx);
        a.mov(dx, 0x3fa);
        a.@in(al, dx); // IIR: acknowledges THR empty
        a.inc(ebx);
        a.cmp(ebx, Deliveries);
        a.jae(noMore);
        a.mov(dx, 0x3f8);
        a.mov(al, (byte)'.');
        a.@out(dx, al); // THR: the next THR-empty edge
        a.Label(ref noMore);
        a.mov(al, 0x20);
        a.@out(0x20, al); // EOI
        a.pop(edx);
        a.pop(eax);
        a.iretd();
    }

    /// <summary>Raw 32-bit code at 1 MiB that asks for the PC platform.</summary>
    private sealed class PcFlatImage(string name, byte[] code) : IBootableImage
    {
        public string Name => name;
        public BootMode BootMode => BootMode.Protected;
        public int VcpuCount => 1;
        public ulong MinimumMemoryBytes => 0;
        public GuestPlatform Platform => GuestPlatform.Pc;
        public LoadedImage LoadInto(HostMemory ram, ulong? loadAddress = null) => FlatImageLoader.Load(ram, code, CodeAddress, name);
    }
}
