using System.Buffers.Binary;
using Actorvisor.Hardware.Apic;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// Actorvisor's own multiboot test kernel for the PC platform (KVM): it checks, from inside a guest, what test kernels
/// such as kvm-unit-tests rely on. Assembled with Iced as a multiboot v1 kernel (a.out kludge, loaded at 1 MiB, its own
/// GDT, IDT and stack), it
/// <list type="number">
/// <item>reads fw_cfg (ports 0x510/0x511): the signature, NB_CPUS and RAM_SIZE;</item>
/// <item>enables its local APIC and counts <see cref="TimerTicks"/> ticks of the LAPIC timer in periodic mode (vector 0x30);</item>
/// <item>masks the PIC, routes IOAPIC pin 4 (COM1's IRQ) to vector 0x34, edge-triggered, and counts the 16550's
/// THR-empty interrupts (IER bit 1; each handled one sends a '.', whose own THR-empty edge is the next interrupt) until
/// <see cref="ThrEmptyInterrupts"/>;</item>
/// <item>prints <see cref="WaitingForInput"/>, enables the received-data interrupt (IER bit 0) and collects what arrives
/// until a newline, counting the received-data interrupts;</item>
/// <item>prints the figures and exits through the debug-exit port (0xf4) with 0 if every check held, else a bit per
/// failed check (<see cref="FailedSignature"/>, <see cref="FailedTimer"/>, <see cref="FailedThrEmpty"/>, <see cref="FailedReceive"/>).</item>
/// </list>
/// Its output, for <c>V</c> vCPUs, <c>R</c> bytes of RAM and an input line <c>L</c>, is <see cref="ExpectedConsole"/>.
/// </summary>
public static class PcPlatformProbe
{
    /// <summary>LAPIC timer ticks the kernel waits for.</summary>
    public const int TimerTicks = 10;

    /// <summary>THR-empty interrupts the kernel counts (it sends one '.' for each but the last).</summary>
    public const int ThrEmptyInterrupts = 5;

    /// <summary>The line it prints (polled, serial interrupts off) before it waits for console input.</summary>
    public const string WaitingForInput = "uart: waiting for a line\n";

    /// <summary>Exit code bit: fw_cfg's signature is not "QEMU".</summary>
    public const int FailedSignature = 1;

    /// <summary>Exit code bit: the timer ticked fewer times than asked (never, as the kernel waits for them; kept for a clear code).</summary>
    public const int FailedTimer = 2;

    /// <summary>Exit code bit: the count of THR-empty interrupts is not <see cref="ThrEmptyInterrupts"/>.</summary>
    public const int FailedThrEmpty = 4;

    /// <summary>Exit code bit: no received-data interrupt was counted.</summary>
    public const int FailedReceive = 8;

    /// <summary>The timer's vector.</summary>
    public const byte TimerVector = 0x30;

    /// <summary>The vector IOAPIC pin 4 is routed to.</summary>
    public const byte SerialVector = 0x34;

    private const byte SpuriousVector = 0xff;
    private const int ReceiveBufferBytes = 64;
    // The LAPIC timer counts the 1 GHz bus clock KVM emulates (LocalApic.BusCycleNanoseconds): divide by 16 and 625,000
    // counts make a 10 ms period, long enough that nested delivery (a few exits of ~5 ms each) keeps up.
    private const uint TimerDivideBy16 = 0x3;
    private const uint TimerInitialCount = 625_000;
    private const uint LvtPeriodic = 1u << 17, LvtMasked = 1u << 16;
    private const uint LapicSvr = 0xf0, LapicEoi = 0xb0, LapicLvtTimer = 0x320, LapicTimerInitial = 0x380, LapicTimerDivide = 0x3e0;
    private const uint IoApicSelect = 0x00, IoApicWindow = 0x10, IoApicRedirectionBase = 0x10;
    private const ushort Com1 = Uart16550.Com1Port;
    private const ushort Code32 = 0x08, Data32 = 0x10;

    /// <summary>What the kernel prints on a machine with <paramref name="vcpus"/> vCPUs and <paramref name="ramBytes"/> of RAM when it is sent <paramref name="line"/> (ending in '\n') and every check holds.</summary>
    /// <remarks>Received-data interrupts are one or more (a line may arrive in one piece or several), so that count is a parameter.</remarks>
    public static string ExpectedConsole(int vcpus, ulong ramBytes, string line, int receiveInterrupts) =>
        $"fw_cfg: signature=QEMU nb_cpus={vcpus:x8} ram_size={ramBytes >> 32:x8}{ramBytes & 0xffff_ffff:x8}\n" +
        $"lapic timer: ticks={TimerTicks:x8}\n" +
        new string('.', ThrEmptyInterrupts - 1) + "\n" +
        WaitingForInput +
        $"uart: thr_empty_interrupts={ThrEmptyInterrupts:x8} received_data_interrupts={receiveInterrupts:x8}\n" +
        $"uart: received: {line}" +
        "done\n";

    /// <summary>The kernel, as a multiboot image that asks for the PC platform.</summary>
    public static GuestImage Image()
    {
        const ulong origin = GuestLayout.ImageBase;
        const uint flags = MultibootHeader.FlagPageAlignModules | MultibootHeader.FlagMemoryInfo | MultibootHeader.FlagAddresses;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            uint At(string label) => (uint)g.AddressOf(label);
            var header = new byte[MultibootHeader.SizeWithAddresses];
            void Put(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(at), value);
            Put(0, MultibootHeader.Magic);
            Put(4, flags);
            Put(8, unchecked(0u - MultibootHeader.Magic - flags));
            Put(12, (uint)origin);
            Put(16, (uint)origin);
            Put(20, 0);
            Put(24, 0);
            Put(28, At("entry"));
            a.db(header);

            // ---- entry: own GDT and stack ----
            g.Mark("entry");
            a.cli();
            a.mov(esp, At("stack_top"));
            a.cld();
            a.lgdt(__[At("gdtr")]);
            a.push(Code32);
            a.push(At("reloaded"));
            a.retf();
            g.Mark("reloaded");
            a.mov(ax, Data32);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(fs, ax);
            a.mov(gs, ax);
            a.lidt(__[At("idtr")]);
            a.xor(edi, edi); // failure bits

            // ---- fw_cfg ----
            void SelectFwCfg(ushort key)
            {
                a.mov(dx, FwCfgDevice.SelectorPort);
                a.mov(ax, key);
                a.@out(dx, ax);
            }
            void ReadFwCfgDword() // -> EAX, little-endian; clobbers DX
            {
                a.mov(dx, FwCfgDevice.SelectorPort + 1);
                for (int i = 0; i < 4; i++)
                {
                    a.@in(al, dx);
                    a.ror(eax, 8);
                }
            }
            SelectFwCfg(FwCfgDevice.Signature);
            ReadFwCfgDword();
            a.mov(__dword_ptr[At("signature")], eax);
            a.cmp(eax, BinaryPrimitives.ReadUInt32LittleEndian("QEMU"u8));
            a.je(g.L("signature_ok"));
            a.or(edi, FailedSignature);
            g.Mark("signature_ok");
            g.Print("fw_cfg: signature=");
            a.mov(esi, At("signature"));
            g.PrintAtSi(); // the dword after it is zero: a NUL-terminated string
            g.Print(" nb_cpus=");
            SelectFwCfg(FwCfgDevice.NbCpus);
            ReadFwCfgDword();
            a.and(eax, 0xffff);
            g.PrintHex32();
            g.Print(" ram_size=");
            SelectFwCfg(FwCfgDevice.RamSize);
            ReadFwCfgDword();
            a.push(eax);
            ReadFwCfgDword();
            g.PrintHex32();
            a.pop(eax);
            g.PrintHex32();
            g.PutChar('\n');

            // ---- the LAPIC timer ----
            uint lapic = (uint)LocalApic.DefaultBase;
            a.mov(al, 0xff); // both PICs fully masked: interrupts come through the LAPIC (and the IOAPIC) only
            a.@out(0x21, al);
            a.@out(0xa1, al);
            a.mov(__dword_ptr[lapic + LapicSvr], 0x100u | SpuriousVector);
            a.mov(__dword_ptr[lapic + LapicTimerDivide], TimerDivideBy16);
            a.mov(__dword_ptr[lapic + LapicLvtTimer], LvtPeriodic | TimerVector);
            a.mov(__dword_ptr[lapic + LapicTimerInitial], TimerInitialCount);
            // Check with interrupts off, then STI; HLT: STI's one-instruction shadow lets no interrupt land between the
            // check and the halt.
            g.Mark("timer_wait");
            a.cli();
            a.cmp(__dword_ptr[At("ticks")], TimerTicks);
            a.jae(g.L("timer_done"));
            a.sti();
            a.hlt();
            a.jmp(g.L("timer_wait"));
            g.Mark("timer_done");
            a.mov(ebp, __dword_ptr[At("ticks")]);
            a.mov(__dword_ptr[lapic + LapicLvtTimer], LvtMasked | TimerVector);
            a.mov(__dword_ptr[lapic + LapicTimerInitial], 0);
            a.cmp(ebp, TimerTicks);
            a.jae(g.L("ticks_ok"));
            a.or(edi, FailedTimer);
            g.Mark("ticks_ok");
            g.Print("lapic timer: ticks=");
            a.mov(eax, ebp);
            g.PrintHex32();
            g.PutChar('\n');

            // ---- the serial interrupt through the IOAPIC ----
            uint ioapic = MpTable.IoApicAddress;
            a.mov(__dword_ptr[ioapic + IoApicSelect], IoApicRedirectionBase + 2 * Uart16550.Com1Irq + 1);
            a.mov(__dword_ptr[ioapic + IoApicWindow], 0u); // destination: APIC id 0
            a.mov(__dword_ptr[ioapic + IoApicSelect], IoApicRedirectionBase + 2 * Uart16550.Com1Irq);
            a.mov(__dword_ptr[ioapic + IoApicWindow], (uint)SerialVector); // fixed, physical, active high, edge, unmasked
            void SetIer(byte value)
            {
                a.mov(dx, (ushort)(Com1 + 1));
                a.mov(al, value);
                a.@out(dx, al);
            }
            SetIer(0x02); // THR empty: raised at once, THR being empty
            g.Mark("thre_wait");
            a.cli();
            a.cmp(__dword_ptr[At("thre_count")], ThrEmptyInterrupts);
            a.jae(g.L("thre_done"));
            a.sti();
            a.hlt();
            a.jmp(g.L("thre_wait"));
            g.Mark("thre_done");
            SetIer(0x00);
            g.PutChar('\n');

            g.Print(WaitingForInput);
            SetIer(0x01); // received data
            g.Mark("rx_wait");
            a.cli();
            a.cmp(__dword_ptr[At("rx_line_done")], 0);
            a.jne(g.L("rx_done"));
            a.sti();
            a.hlt();
            a.jmp(g.L("rx_wait"));
            g.Mark("rx_done");
            SetIer(0x00);

            a.cmp(__dword_ptr[At("thre_count")], ThrEmptyInterrupts);
            a.je(g.L("thre_ok"));
            a.or(edi, FailedThrEmpty);
            g.Mark("thre_ok");
            a.cmp(__dword_ptr[At("rx_count")], 0);
            a.jne(g.L("rx_ok"));
            a.or(edi, FailedReceive);
            g.Mark("rx_ok");
            g.Print("uart: thr_empty_interrupts=");
            a.mov(eax, __dword_ptr[At("thre_count")]);
            g.PrintHex32();
            g.Print(" received_data_interrupts=");
            a.mov(eax, __dword_ptr[At("rx_count")]);
            g.PrintHex32();
            g.Print("\nuart: received: ");
            a.mov(esi, At("rx_buffer"));
            g.PrintAtSi();
            g.Print("done\n");
            a.mov(eax, edi);
            g.DebugExitWithAl();

            // ---- interrupt handlers ----
            g.Mark("timer_handler");
            a.inc(__dword_ptr[At("ticks")]);
            a.mov(__dword_ptr[lapic + LapicEoi], 0);
            a.iretd();

            g.Mark("spurious_handler");
            a.iretd(); // a spurious interrupt takes no EOI

            // COM1: handle what IIR reports until nothing is pending, except that after sending a byte for a THR-empty
            // interrupt the handler returns: that byte's own THR-empty edge is the next interrupt.
            g.Mark("serial_handler");
            a.push(eax);
            a.push(edx);
            g.Mark("serial_next");
            a.mov(dx, (ushort)(Com1 + 2));
            a.@in(al, dx);
            a.test(al, 1);
            a.jnz(g.L("serial_eoi"));
            a.and(al, 0x0e);
            a.cmp(al, 0x04);
            a.je(g.L("serial_rx"));
            a.cmp(al, 0x02);
            a.je(g.L("serial_thre"));
            a.mov(dx, (ushort)(Com1 + 6)); // modem or line status: reading MSR and LSR clears them
            a.@in(al, dx);
            a.mov(dx, (ushort)(Com1 + 5));
            a.@in(al, dx);
            a.jmp(g.L("serial_next"));

            g.Mark("serial_rx");
            a.inc(__dword_ptr[At("rx_count")]);
            g.Mark("serial_rx_byte");
            a.mov(dx, (ushort)(Com1 + 5));
            a.@in(al, dx);
            a.test(al, 1);
            a.jz(g.L("serial_next"));
            a.mov(dx, Com1);
            a.@in(al, dx);
            a.mov(edx, __dword_ptr[At("rx_length")]);
            a.cmp(edx, ReceiveBufferBytes - 1);
            a.jae(g.L("serial_rx_byte")); // full: dropped (the NUL stays)
            a.mov(__byte_ptr[edx + At("rx_buffer")], al);
            a.inc(__dword_ptr[At("rx_length")]);
            a.cmp(al, (byte)'\n');
            a.jne(g.L("serial_rx_byte"));
            a.mov(__dword_ptr[At("rx_line_done")], 1);
            a.jmp(g.L("serial_rx_byte"));

            g.Mark("serial_thre");
            a.inc(__dword_ptr[At("thre_count")]);
            a.cmp(__dword_ptr[At("thre_count")], ThrEmptyInterrupts);
            a.jae(g.L("serial_eoi"));
            a.mov(dx, Com1);
            a.mov(al, (byte)'.');
            a.@out(dx, al);

            g.Mark("serial_eoi");
            a.mov(__dword_ptr[lapic + LapicEoi], 0);
            a.pop(edx);
            a.pop(eax);
            a.iretd();

            // ---- data ----
            g.Mark("gdt");
            a.db([0, 0, 0, 0, 0, 0, 0, 0]);
            a.db([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0]); // 0x08: flat 32-bit code
            a.db([0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]); // 0x10: flat data
            g.Mark("gdtr");
            var gdtr = new byte[6];
            BinaryPrimitives.WriteUInt16LittleEndian(gdtr, 3 * 8 - 1);
            BinaryPrimitives.WriteUInt32LittleEndian(gdtr.AsSpan(2), At("gdt"));
            a.db(gdtr);
            g.Mark("idtr");
            var idtr = new byte[6];
            BinaryPrimitives.WriteUInt16LittleEndian(idtr, 256 * 8 - 1);
            BinaryPrimitives.WriteUInt32LittleEndian(idtr.AsSpan(2), At("idt"));
            a.db(idtr);
            g.Mark("idt");
            var idt = new byte[256 * 8];
            void Gate(byte vector, uint handler)
            {
                var gate = idt.AsSpan(vector * 8);
                BinaryPrimitives.WriteUInt32LittleEndian(gate, (handler & 0xffff) | (uint)Code32 << 16);
                BinaryPrimitives.WriteUInt32LittleEndian(gate[4..], (handler & 0xffff_0000) | 0x8e00); // present, 32-bit interrupt gate
            }
            Gate(TimerVector, At("timer_handler"));
            Gate(SerialVector, At("serial_handler"));
            Gate(SpuriousVector, At("spurious_handler"));
            a.db(idt);
            foreach (var counter in new[] { "ticks", "thre_count", "rx_count", "rx_length", "rx_line_done" })
            {
                g.Mark(counter);
                a.db([0, 0, 0, 0]);
            }
            g.Mark("signature");
            a.db(new byte[8]);
            g.Mark("rx_buffer");
            a.db(new byte[ReceiveBufferBytes]);
            a.db(new byte[1024]);
            g.Mark("stack_top");
            a.hlt(); // never reached: gives the label an instruction of its own (the routines follow)
        });
        return new GuestImage("pc-platform-probe", bytes, origin, origin + MultibootHeader.SizeWithAddresses, BootMode.Protected, 1,
            "multiboot kernel for the PC platform: reads fw_cfg, counts LAPIC timer ticks and IOAPIC-routed 16550 interrupts, echoes a line, exits 0")
        {
            Format = ImageFormat.Multiboot,
            Platform = GuestPlatform.Pc,
            ExpectedResultCode = 0,
        };
    }
}
