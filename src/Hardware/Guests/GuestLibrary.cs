using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// The guest programs Actorvisor ships, assembled in-process with Iced. Each prints on COM1 (polling the
/// 16550's LSR) and ends by writing a result code to the debug-exit port (0xf4), unless it is meant to
/// halt or fault. <see cref="GuestImage.ExpectedConsole"/> and <see cref="GuestImage.ExpectedResultCode"/>
/// give what a correct run produces; the doc comment of each guest says how it is computed.
/// Real-mode guests load at <see cref="GuestLayout.RealModeImageBase"/>, the others at <see cref="GuestLayout.ImageBase"/>;
/// <see cref="All"/> also lists the boot-protocol guests of <see cref="BootProtocolGuests"/> (a boot sector at 0x7c00, a multiboot kernel).
/// </summary>
public static class GuestLibrary
{
    /// <summary>What <see cref="Hello"/> prints.</summary>
    public const string HelloText = "Hello from an Actorvisor guest!\n";

    /// <summary>What <see cref="LongModeHello"/> prints first.</summary>
    public const string LongModeHelloText = "Hello from 64-bit long mode!\n";

    /// <summary>The step of the fill pattern: dword k of a filled region holds start + k * FillStep (mod 2^32).</summary>
    public const uint FillStep = 0x9E37_79B1;

    /// <summary>Guest-physical address of the register <see cref="MmioProber"/> reads.</summary>
    public const ulong ProbeReadAddress = 0xD000_0000;

    /// <summary>Guest-physical address of the register <see cref="MmioProber"/> writes (the next dword).</summary>
    public const ulong ProbeWriteAddress = ProbeReadAddress + 4;

    /// <summary>The port <see cref="PortIoLoop"/> writes to: the PC's POST-code port, which no Actorvisor device owns.</summary>
    public const ushort PortIoLoopPort = 0x80;

    /// <summary>Most pages <see cref="MemoryWriter"/> can fill: all RAM above <see cref="GuestLayout.DataBase"/>.</summary>
    public const int MaxMemoryWriterPages = (int)((GuestLayout.MaxRamBytes - GuestLayout.DataBase) / 4096);

    private const int DwordsPerPage = 1024;

    /// <summary>
    /// Real mode. Prints <see cref="HelloText"/> and exits with result code 0.
    /// </summary>
    public static GuestImage Hello()
    {
        const ulong origin = GuestLayout.RealModeImageBase;
        var bytes = GuestAssembler.Assemble(16, origin, g =>
        {
            g.Asm.cld();
            g.Print(HelloText);
            g.Asm.mov(al, 0);
            g.DebugExitWithAl();
        });
        return new GuestImage("hello", bytes, origin, origin, BootMode.Real, 1, "real mode: prints a greeting on COM1 and exits with 0")
        {
            ExpectedConsole = HelloText,
            ExpectedResultCode = 0,
        };
    }

    /// <summary>Real mode. Writes <paramref name="code"/> to the debug-exit port at once; prints nothing.</summary>
    public static GuestImage ExitWith(int code)
    {
        if (code is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(code), code, "a result code is one byte: 0..255");
        const ulong origin = GuestLayout.RealModeImageBase;
        var bytes = GuestAssembler.Assemble(16, origin, g =>
        {
            g.Asm.mov(al, (byte)code);
            g.DebugExitWithAl();
        });
        return new GuestImage("exit-with", bytes, origin, origin, BootMode.Real, 1, $"real mode: exits with result code {code}")
        {
            ExpectedResultCode = code,
        };
    }

    /// <summary>Real mode. Executes HLT with interrupts off: the vCPU stops for good; no output, no result code.</summary>
    public static GuestImage Halt()
    {
        const ulong origin = GuestLayout.RealModeImageBase;
        var bytes = GuestAssembler.Assemble(16, origin, g => g.HaltForever());
        return new GuestImage("halt", bytes, origin, origin, BootMode.Real, 1, "real mode: halts at once (the machine ends halted, without a result code)");
    }

    /// <summary>
    /// Real mode. Counts up in EAX forever without exiting (a busy guest for pause/resume and teardown while
    /// running): no output, no result code; it ends only when stopped.
    /// </summary>
    public static GuestImage Spin()
    {
        const ulong origin = GuestLayout.RealModeImageBase;
        var bytes = GuestAssembler.Assemble(16, origin, g =>
        {
            var top = g.Asm.CreateLabel();
            g.Asm.Label(ref top);
            g.Asm.inc(eax);
            g.Asm.jmp(top);
        });
        return new GuestImage("spin", bytes, origin, origin, BootMode.Real, 1, "real mode: counts in EAX forever (ends only when stopped)");
    }

    /// <summary>
    /// Protected mode. Executes UD2. With no IDT (limit 0) the #UD cannot be delivered, which becomes #GP, then
    /// a double fault, then a triple fault: the vCPU shuts down (a fatal exit); no output, no result code.
    /// </summary>
    public static GuestImage TripleFault()
    {
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            g.Asm.ud2();
            g.HaltForever();
        });
        return new GuestImage("triple-fault", bytes, origin, origin, BootMode.Protected, 1, "protected mode: UD2 without an IDT, a triple fault (the run fails with a shutdown)");
    }

    /// <summary>
    /// Protected mode. Fills <paramref name="pages"/> 4 KiB pages from <paramref name="address"/> (default
    /// <see cref="GuestLayout.DataBase"/>) with the pattern dword k = k * <see cref="FillStep"/>, reads them all back
    /// summing the dwords (mod 2^32), prints "checksum=" and the sum as 8 lowercase hex digits and a newline, and
    /// exits with the sum's low byte. With D = pages * 1024 the sum is <see cref="FillStep"/> * D(D-1)/2 mod 2^32
    /// (<see cref="ExpectedMemoryChecksum"/>). An <paramref name="address"/> other than DataBase (e.g. a lazy memory
    /// region above RAM) must be 4 KiB aligned and at or above DataBase; the guest then needs only the RAM its image does.
    /// </summary>
    public static GuestImage MemoryWriter(int pages, ulong address = GuestLayout.DataBase)
    {
        if (pages < 1 || pages > MaxMemoryWriterPages)
            throw new ArgumentOutOfRangeException(nameof(pages), pages, $"pages must be 1..{MaxMemoryWriterPages}");
        if (address < GuestLayout.DataBase || address % 4096 != 0 || address + (ulong)pages * 4096 > 0x1_0000_0000)
            throw new ArgumentOutOfRangeException(nameof(address), address, $"the filled range must start 4 KiB aligned at or above 0x{GuestLayout.DataBase:x} and end below 4 GiB");
        const ulong origin = GuestLayout.ImageBase;
        uint dwords = (uint)pages * DwordsPerPage;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            a.cld();
            a.mov(edi, (uint)address);
            a.mov(ecx, dwords);
            a.xor(eax, eax);
            EmitFillLoop(a);
            g.SumDwordsAndPrint((uint)address, dwords, "checksum=");
            a.mov(eax, ebp);
            g.DebugExitWithAl();
        });
        uint checksum = ExpectedMemoryChecksum(pages);
        return new GuestImage("memory-writer", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: fills {pages} pages at 0x{address:x}, sums them back, prints the checksum and exits with its low byte")
        {
            ExpectedConsole = $"checksum={checksum:x8}\n",
            ExpectedResultCode = (int)(checksum & 0xff),
            MinimumMemoryBytes = address == GuestLayout.DataBase ? GuestLayout.DataBase + (ulong)pages * 4096 : GuestLayout.DataBase,
        };
    }

    /// <summary>The checksum <see cref="MemoryWriter"/> prints: FillStep * D(D-1)/2 mod 2^32 with D = pages * 1024.</summary>
    public static uint ExpectedMemoryChecksum(int pages) => FilledRegionSum((ulong)pages * DwordsPerPage, 0);

    /// <summary>
    /// Protected mode. Reads the dword at <see cref="ProbeReadAddress"/> (MMIO: no RAM there), writes that value + 1
    /// to <see cref="ProbeWriteAddress"/>, prints "read=XXXXXXXX wrote=YYYYYYYY" and a newline, and exits with the
    /// low byte of the value written. With nothing mapped there the read returns all-ones, so it prints
    /// "read=ffffffff wrote=00000000" and exits with 0; use <see cref="ExpectedProbeConsole"/> for other values.
    /// </summary>
    public static GuestImage MmioProber()
    {
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            a.cld();
            a.mov(eax, __dword_ptr[ProbeReadAddress]);
            a.mov(ebp, eax);
            a.inc(eax);
            a.mov(__dword_ptr[ProbeWriteAddress], eax);
            a.mov(edi, eax);
            g.Print("read=");
            a.mov(eax, ebp);
            g.PrintHex32();
            g.Print(" wrote=");
            a.mov(eax, edi);
            g.PrintHex32();
            g.PutChar('\n');
            a.mov(eax, edi);
            g.DebugExitWithAl();
        });
        return new GuestImage("mmio-prober", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: reads MMIO 0x{ProbeReadAddress:x}, writes the value + 1 to 0x{ProbeWriteAddress:x}, prints both, exits with the low byte written")
        {
            ExpectedConsole = ExpectedProbeConsole(0xffff_ffff),
            ExpectedResultCode = 0,
        };
    }

    /// <summary>What <see cref="MmioProber"/> prints when the register at <see cref="ProbeReadAddress"/> holds <paramref name="value"/>.</summary>
    public static string ExpectedProbeConsole(uint value) => $"read={value:x8} wrote={unchecked(value + 1):x8}\n";

    /// <summary>
    /// Long mode. Prints <see cref="LongModeHelloText"/>, then computes 0xffffffff + 1 in RAX (a 33-bit result only
    /// 64-bit registers hold) and keeps it in R15 (a register only 64-bit mode has), prints "rax=0000000100000000"
    /// and a newline, and exits with RAX >> 26 = 64.
    /// </summary>
    public static GuestImage LongModeHello()
    {
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(64, origin, g =>
        {
            var a = g.Asm;
            a.cld();
            g.Print(LongModeHelloText);
            a.mov(eax, 0xffff_ffffu);
            a.inc(rax);
            a.mov(r15, rax);
            g.Print("rax=");
            a.mov(rax, r15);
            g.PrintHex64();
            g.PutChar('\n');
            a.mov(rax, r15);
            a.shr(rax, 26);
            g.DebugExitWithAl();
        });
        return new GuestImage("long-mode-hello", bytes, origin, origin, BootMode.Long, 1,
            "long mode: prints a greeting and a 33-bit value computed in RAX, exits with 64")
        {
            ExpectedConsole = LongModeHelloText + "rax=0000000100000000\n",
            ExpectedResultCode = 64,
        };
    }

    /// <summary>
    /// Protected mode, 2 vCPUs. Each vCPU takes its index n from EDI (see <see cref="GuestLayout"/>), fills its own
    /// region of <paramref name="regionPages"/> pages at <see cref="TwoVcpuRegion"/>(n) with dword k = (n + 1) + k *
    /// <see cref="FillStep"/>, then sets its completion flag (the dword at <see cref="GuestLayout.DataBase"/> + 4n) to 1.
    /// vCPU 1 then halts. vCPU 0 waits for vCPU 1's flag, sums each region (mod 2^32), prints "vcpu0=XXXXXXXX" and
    /// "vcpu1=XXXXXXXX" lines, and exits with the sum of both flags (2). See <see cref="ExpectedRegionSum"/>.
    /// </summary>
    public static GuestImage TwoVcpuWriter(int regionPages = 16)
    {
        const int maxRegionPages = 0x10000; // 256 MiB per region
        if (regionPages < 1 || regionPages > maxRegionPages)
            throw new ArgumentOutOfRangeException(nameof(regionPages), regionPages, $"regionPages must be 1..{maxRegionPages}");
        const ulong origin = GuestLayout.ImageBase;
        uint regionBytes = (uint)regionPages * 4096, dwords = (uint)regionPages * DwordsPerPage;
        uint flags = (uint)GuestLayout.DataBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var secondary = a.CreateLabel();
            var wait = a.CreateLabel();
            a.cld();
            a.mov(ebp, edi);
            a.mov(eax, edi);
            a.imul(eax, eax, (int)regionBytes);
            a.add(eax, (uint)TwoVcpuRegion(0, regionPages));
            a.mov(edi, eax);
            a.lea(eax, __[ebp + 1]);
            a.mov(ecx, dwords);
            EmitFillLoop(a);
            a.mov(__dword_ptr[ebp * 4 + (int)flags], 1);
            a.test(ebp, ebp);
            a.jnz(secondary);
            a.Label(ref wait);
            a.pause();
            a.cmp(__dword_ptr[(long)flags + 4], 1);
            a.jne(wait);
            for (int n = 0; n < 2; n++)
                g.SumDwordsAndPrint((uint)TwoVcpuRegion(n, regionPages), dwords, $"vcpu{n}=");
            a.mov(eax, __dword_ptr[(long)flags]);
            a.add(eax, __dword_ptr[(long)flags + 4]);
            g.DebugExitWithAl();
            a.Label(ref secondary);
            a.hlt();
            a.jmp(secondary);
        });
        return new GuestImage("two-vcpu-writer", bytes, origin, origin, BootMode.Protected, 2,
            $"protected mode, 2 vCPUs: each fills its own {regionPages}-page region chosen by its vCPU index; vCPU 0 prints both sums and exits with 2")
        {
            ExpectedConsole = $"vcpu0={ExpectedRegionSum(0, regionPages):x8}\nvcpu1={ExpectedRegionSum(1, regionPages):x8}\n",
            ExpectedResultCode = 2,
            MinimumMemoryBytes = TwoVcpuRegion(2, regionPages),
        };
    }

    /// <summary>Guest-physical start of vCPU <paramref name="vcpu"/>'s region in <see cref="TwoVcpuWriter"/>: DataBase + 4 KiB (the flags page) + n * region size.</summary>
    public static ulong TwoVcpuRegion(int vcpu, int regionPages) => GuestLayout.DataBase + 0x1000 + (ulong)vcpu * (ulong)regionPages * 4096;

    /// <summary>The sum <see cref="TwoVcpuWriter"/> prints for vCPU <paramref name="vcpu"/>: D(n+1) + FillStep * D(D-1)/2 mod 2^32, D = regionPages * 1024.</summary>
    public static uint ExpectedRegionSum(int vcpu, int regionPages) => FilledRegionSum((ulong)regionPages * DwordsPerPage, (uint)(vcpu + 1));

    /// <summary>
    /// Protected mode. Executes <paramref name="writes"/> OUT instructions to <see cref="PortIoLoopPort"/> (no
    /// device: each is one port I/O exit the bus counts and drops), counting them in EBP, then prints
    /// "port-io=XXXXXXXX" (the count in hex) and a newline and exits with 0. A benchmark of the exit path.
    /// </summary>
    public static GuestImage PortIoLoop(int writes)
    {
        if (writes < 1) throw new ArgumentOutOfRangeException(nameof(writes), writes, "writes must be at least 1");
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel();
            a.cld();
            a.xor(ebp, ebp);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.@out((byte)PortIoLoopPort, al);
            a.inc(ebp);
            a.cmp(ebp, writes);
            a.jne(loop);
            g.Print("port-io=");
            a.mov(eax, ebp);
            g.PrintHex32();
            g.PutChar('\n');
            a.mov(al, 0);
            g.DebugExitWithAl();
        });
        return new GuestImage("port-io-loop", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: {writes} OUTs to port 0x{PortIoLoopPort:x} (unclaimed), then prints the count and exits with 0")
        {
            ExpectedConsole = $"port-io={(uint)writes:x8}\n",
            ExpectedResultCode = 0,
        };
    }

    /// <summary>The line <see cref="Counter"/> prints for <paramref name="n"/>: "count=" and n as 8 lowercase hex digits, then a newline.</summary>
    public static string CounterLine(uint n) => $"count={n:x8}\n";

    /// <summary>The most lines a <see cref="Counter"/> prints (its expected console, spelled out, is then 15 MB).</summary>
    public const int MaxCounterLines = 1_000_000;

    /// <summary>Where <see cref="Counter"/> keeps its counter (a dword in RAM, so that memory carries state too).</summary>
    public const ulong CounterAddress = GuestLayout.DataBase;

    /// <summary>
    /// Protected mode. Fills <paramref name="ballastPages"/> pages above <see cref="CounterAddress"/> (the FillStep
    /// pattern: written memory a snapshot must keep, which the rest of the run never touches again), then for n = 0 ..
    /// <paramref name="count"/> - 1 prints <see cref="CounterLine"/>(n), reading n from and incrementing it in the dword at
    /// <see cref="CounterAddress"/>, and writes one byte to the unclaimed port <see cref="PortIoLoopPort"/> after each line
    /// (the last instruction before the loop's branch: a VMM can stop it there, at a line boundary); then exits with 0.
    /// A run resumed from a snapshot continues the sequence where it stopped.
    /// </summary>
    public static GuestImage Counter(int count, int ballastPages = 0)
    {
        if (count < 1 || count > MaxCounterLines) throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be 1..{MaxCounterLines}");
        if (ballastPages < 0 || ballastPages > MaxMemoryWriterPages - 1) throw new ArgumentOutOfRangeException(nameof(ballastPages), ballastPages, $"ballast pages must be 0..{MaxMemoryWriterPages - 1}");
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel();
            a.cld();
            if (ballastPages > 0)
            {
                a.mov(edi, (uint)CounterAddress + 4096);
                a.mov(ecx, (uint)ballastPages * DwordsPerPage);
                a.xor(eax, eax);
                EmitFillLoop(a);
            }
            a.mov(__dword_ptr[(uint)CounterAddress], 0);
            a.Label(ref loop);
            g.Print("count=");
            a.mov(eax, __dword_ptr[(uint)CounterAddress]);
            g.PrintHex32();
            g.PutChar('\n');
            a.mov(eax, __dword_ptr[(uint)CounterAddress]);
            a.inc(eax);
            a.mov(__dword_ptr[(uint)CounterAddress], eax);
            a.@out((byte)PortIoLoopPort, al);
            a.cmp(eax, count);
            a.jne(loop);
            a.mov(al, 0);
            g.DebugExitWithAl();
        });
        return new GuestImage("counter", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: fills {ballastPages} ballast pages, prints count=0..{count - 1} (a counter kept in RAM) one per line, then exits with 0")
        {
            ExpectedConsole = string.Concat(Enumerable.Range(0, count).Select(n => CounterLine((uint)n))),
            ExpectedResultCode = 0,
            MinimumMemoryBytes = CounterAddress + (ulong)(ballastPages + 1) * 4096,
        };
    }

    /// <summary>
    /// Protected mode, for the PC platform (KVM's in-kernel LAPIC). Puts the LAPIC in x2APIC mode (IA32_APIC_BASE bits 10
    /// and 11), software-enables it and starts its timer periodic and masked (divide by 1, 2^20 ticks: about 1 ms at KVM's
    /// 1 GHz APIC bus), all through WRMSR; fills <paramref name="ballastPages"/> pages above <see cref="CounterAddress"/> as
    /// <see cref="Counter"/> does, then prints <see cref="CounterLine"/>(n) for n = 0, 1, ... forever, waiting before each
    /// line until the timer's current count (RDMSR 0x839) reloads (reads higher than the read before). A LAPIC whose timer
    /// does not run (initial count 0, as in a machine whose LAPIC state was lost) never reloads, and the guest prints
    /// nothing more: what a snapshot test needs.
    /// </summary>
    public static GuestImage LapicTimerCounter(int ballastPages = 0)
    {
        if (ballastPages < 0 || ballastPages > MaxMemoryWriterPages - 1) throw new ArgumentOutOfRangeException(nameof(ballastPages), ballastPages, $"ballast pages must be 0..{MaxMemoryWriterPages - 1}");
        const uint apicBase = 0x1b, svr = 0x80f, lvtTimer = 0x832, initialCount = 0x838, currentCount = 0x839, divide = 0x83e;
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            void Wrmsr(uint msr, uint value)
            {
                a.mov(ecx, msr);
                a.mov(eax, value);
                a.xor(edx, edx);
                a.wrmsr();
            }
            var loop = a.CreateLabel();
            var wait = a.CreateLabel();
            a.cld();
            if (ballastPages > 0)
            {
                a.mov(edi, (uint)CounterAddress + 4096);
                a.mov(ecx, (uint)ballastPages * DwordsPerPage);
                a.xor(eax, eax);
                EmitFillLoop(a);
            }
            a.mov(ecx, apicBase);
            a.rdmsr();
            a.or(eax, 0xc00); // global enable + x2APIC
            a.wrmsr();
            Wrmsr(svr, 0x1ff);
            Wrmsr(divide, 0xb);
            Wrmsr(lvtTimer, (1 << 17) | (1 << 16) | 0x40); // periodic, masked, vector 0x40
            Wrmsr(initialCount, 0x10_0000);
            a.mov(__dword_ptr[(uint)CounterAddress], 0);
            a.Label(ref loop);
            a.mov(ecx, currentCount);
            a.rdmsr();
            a.mov(esi, eax);
            a.Label(ref wait);
            a.mov(ecx, currentCount);
            a.rdmsr();
            a.cmp(eax, esi);
            a.mov(esi, eax);
            a.jbe(wait);
            g.Print("count=");
            a.mov(eax, __dword_ptr[(uint)CounterAddress]);
            g.PrintHex32();
            g.PutChar('\n');
            a.inc(__dword_ptr[(uint)CounterAddress]);
            a.jmp(loop);
        });
        return new GuestImage("lapic-timer-counter", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode, PC platform: fills {ballastPages} ballast pages, then prints count=0, 1, ... one line per x2APIC timer reload (polled, masked), forever")
        {
            MinimumMemoryBytes = CounterAddress + (ulong)(ballastPages + 1) * 4096,
        };
    }

    /// <summary>Where <see cref="DirtyingCounter"/> keeps its cursor (the next page it dirties), beside the counter.</summary>
    public const ulong DirtyingCursorAddress = CounterAddress + 4;

    /// <summary>Where the pages <see cref="DirtyingCounter"/> dirties start: the page after the counter's.</summary>
    public const ulong DirtiedRegionAddress = CounterAddress + 4096;

    /// <summary>
    /// Protected mode. A <see cref="Counter"/> that keeps writing memory: for n = 0 .. <paramref name="count"/> - 1 it prints
    /// <see cref="CounterLine"/>(n), then increments the first dword of the next <paramref name="pagesPerLine"/> pages of a
    /// region of <paramref name="pages"/> pages at <see cref="DirtiedRegionAddress"/> (a cursor kept in RAM at
    /// <see cref="DirtyingCursorAddress"/> walks the region round and round), increments the counter at
    /// <see cref="CounterAddress"/> and writes one byte to <see cref="PortIoLoopPort"/> (a line boundary a VMM can stop
    /// at). At the end it sums the whole region (mod 2^32), prints "checksum=" and the sum as 8 hex digits, and exits
    /// with its low byte: every increment the guest made is in the sum once, so a page whose latest write was lost (a
    /// migration that missed a dirty page) shows as a smaller sum than <see cref="DirtyingChecksum"/>.
    /// </summary>
    public static GuestImage DirtyingCounter(int count, int pages, int pagesPerLine) => Dirtying(count, pages, pagesPerLine, random: false);

    /// <summary>
    /// Protected mode. <see cref="DirtyingCounter"/> with pseudo-random pages: after each line it increments the first
    /// dword of <paramref name="pagesPerLine"/> pages of the region picked by a linear congruential generator (state kept
    /// at <see cref="DirtyingCursorAddress"/>, x = x * 1664525 + 1013904223, page = x mod <paramref name="pages"/>), so its
    /// writes scatter over the region as a busy guest's do rather than walking it. The line boundary's port write lets a
    /// VMM pace it to a dirty rate (pages per line over its time per line). Same checksum and exit as <see cref="DirtyingCounter"/>.
    /// </summary>
    public static GuestImage RandomDirtyingCounter(int count, int pages, int pagesPerLine) => Dirtying(count, pages, pagesPerLine, random: true);

    /// <summary>
    /// Protected mode. <see cref="DirtyingCounter"/> without an end: it prints <see cref="CounterLine"/>(n) and dirties
    /// <paramref name="pagesPerLine"/> consecutive pages of its <paramref name="pages"/>-page region per line until it is
    /// stopped (the counter wraps after 2^32 lines). Every <paramref name="sumEvery"/> lines (after the line's pages are
    /// dirtied and the counter incremented) it sums the whole region and prints <see cref="DirtyingLoopSumLine"/> of the
    /// lines so far: a page whose latest write was lost (a migration that missed a dirty page) shows as a wrong sum in
    /// the guest's own output. For tests that must outlast any machine's speed, such as a VM moved round a cluster.
    /// </summary>
    public static GuestImage DirtyingLoop(int pages, int pagesPerLine, int sumEvery = DefaultDirtyingLoopSumEvery) =>
        Dirtying(0, pages, pagesPerLine, random: false, sumEvery);

    /// <summary>How many lines <see cref="DirtyingLoop"/> prints between its sums by default.</summary>
    public const int DefaultDirtyingLoopSumEvery = 256;

    /// <summary>
    /// The line <see cref="DirtyingLoop"/> prints after <paramref name="lines"/> lines (a multiple of its sum-every):
    /// "sum=" and the region's sum, one increment per page dirtied (<see cref="DirtyingChecksum"/>, mod 2^32), as 8 hex digits.
    /// </summary>
    public static string DirtyingLoopSumLine(uint lines, int pagesPerLine) => $"sum={unchecked(lines * (uint)pagesPerLine):x8}\n";

    private static GuestImage Dirtying(int count, int pages, int pagesPerLine, bool random, int sumEvery = 0)
    {
        bool forever = count == 0;
        if ((count < 1 && !forever) || count > MaxCounterLines) throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be 1..{MaxCounterLines}");
        if (pages < 1 || pages > MaxMemoryWriterPages - 1) throw new ArgumentOutOfRangeException(nameof(pages), pages, $"pages must be 1..{MaxMemoryWriterPages - 1}");
        if (pagesPerLine < 1) throw new ArgumentOutOfRangeException(nameof(pagesPerLine), pagesPerLine, "pagesPerLine must be at least 1");
        if (forever && sumEvery < 1) throw new ArgumentOutOfRangeException(nameof(sumEvery), sumEvery, "sumEvery must be at least 1");
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel();
            var dirty = a.CreateLabel();
            var noWrap = a.CreateLabel();
            a.cld();
            a.mov(__dword_ptr[(uint)CounterAddress], 0);
            a.mov(__dword_ptr[(uint)DirtyingCursorAddress], 0);
            a.Label(ref loop);
            g.Print("count=");
            a.mov(eax, __dword_ptr[(uint)CounterAddress]);
            g.PrintHex32();
            g.PutChar('\n');
            a.mov(ecx, (uint)pagesPerLine);
            a.Label(ref dirty);
            a.mov(eax, __dword_ptr[(uint)DirtyingCursorAddress]);
            if (random)
            {
                a.imul(eax, eax, 1664525);
                a.add(eax, 1013904223);
                a.mov(__dword_ptr[(uint)DirtyingCursorAddress], eax);
                a.xor(edx, edx);
                a.mov(ebx, (uint)pages);
                a.div(ebx);
                a.mov(ebx, edx);
                a.shl(ebx, 12);
                a.inc(__dword_ptr[ebx + (int)DirtiedRegionAddress]);
            }
            else
            {
                a.mov(ebx, eax);
                a.shl(ebx, 12);
                a.inc(__dword_ptr[ebx + (int)DirtiedRegionAddress]);
                a.inc(eax);
                a.cmp(eax, pages);
                a.jne(noWrap);
                a.xor(eax, eax);
                a.Label(ref noWrap);
                a.mov(__dword_ptr[(uint)DirtyingCursorAddress], eax);
            }
            a.dec(ecx);
            a.jnz(dirty);
            a.mov(eax, __dword_ptr[(uint)CounterAddress]);
            a.inc(eax);
            a.mov(__dword_ptr[(uint)CounterAddress], eax);
            a.@out((byte)PortIoLoopPort, al);
            if (forever)
            {
                // The counter (in EAX) a multiple of sumEvery: sum the region and print it, then on with the next line.
                a.xor(edx, edx);
                a.mov(ebx, (uint)sumEvery);
                a.div(ebx);
                a.test(edx, edx);
                a.jnz(loop);
                g.SumDwordsAndPrint((uint)DirtiedRegionAddress, (uint)pages * DwordsPerPage, "sum=");
                a.jmp(loop);
                return;
            }
            a.cmp(eax, count);
            a.jne(loop);
            g.SumDwordsAndPrint((uint)DirtiedRegionAddress, (uint)pages * DwordsPerPage, "checksum=");
            a.mov(eax, ebp);
            g.DebugExitWithAl();
        });
        if (forever)
            return new GuestImage("dirtying-loop", bytes, origin, origin, BootMode.Protected, 1,
                $"protected mode: prints count=0, 1, ... until stopped, dirtying {pagesPerLine} consecutive of {pages} pages after each line and printing their sum every {sumEvery} lines")
            {
                MinimumMemoryBytes = DirtiedRegionAddress + (ulong)pages * 4096,
            };
        uint checksum = DirtyingChecksum(count, pagesPerLine);
        return new GuestImage(random ? "random-dirtying-counter" : "dirtying-counter", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: prints count=0..{count - 1}, dirtying {pagesPerLine} {(random ? "pseudo-random" : "consecutive")} of {pages} pages after each line, then the region's checksum; exits with its low byte")
        {
            ExpectedConsole = string.Concat(Enumerable.Range(0, count).Select(n => CounterLine((uint)n))) + $"checksum={checksum:x8}\n",
            ExpectedResultCode = (int)(checksum & 0xff),
            MinimumMemoryBytes = DirtiedRegionAddress + (ulong)pages * 4096,
        };
    }

    /// <summary>The checksum <see cref="DirtyingCounter"/> prints: one increment per page dirtied, count * pagesPerLine mod 2^32.</summary>
    public static uint DirtyingChecksum(int count, int pagesPerLine) => unchecked((uint)count * (uint)pagesPerLine);

    /// <summary>What <see cref="SerialEcho"/> prints before it reads.</summary>
    public const string SerialEchoReady = "echo: ready\n";

    /// <summary>
    /// Real mode. Prints <see cref="SerialEchoReady"/>, then polls the 16550's LSR.DR and echoes every byte it receives on
    /// COM1 until it has echoed a '\n', then exits with result code 0. It needs console input to end: its output is
    /// "echo: ready\n" followed by the input up to and including the first newline.
    /// </summary>
    public static GuestImage SerialEcho()
    {
        const ulong origin = GuestLayout.RealModeImageBase;
        var bytes = GuestAssembler.Assemble(16, origin, g =>
        {
            var a = g.Asm;
            var next = a.CreateLabel();
            var poll = a.CreateLabel();
            a.cld();
            g.Print(SerialEchoReady);
            a.Label(ref next);
            a.mov(dx, (ushort)0x3fd); // LSR
            a.Label(ref poll);
            a.@in(al, dx);
            a.test(al, 0x01); // DR: a received byte waits in RBR
            a.jz(poll);
            a.mov(dx, (ushort)0x3f8); // RBR
            a.@in(al, dx);
            a.mov(bl, al);
            g.PutCharAl();
            a.cmp(bl, (byte)'\n');
            a.jne(next);
            a.mov(al, 0);
            g.DebugExitWithAl();
        });
        return new GuestImage("serial-echo", bytes, origin, origin, BootMode.Real, 1,
            "real mode: echoes console input on COM1 up to the first newline, then exits with 0 (waits for input)");
    }

    /// <summary>Every library guest with default parameters (MemoryWriter: 16 pages; PortIoLoop: 1000 writes; DirtyingCounter: 16 lines over 16 pages), for listings.</summary>
    public static IReadOnlyList<GuestImage> All() =>
        [Hello(), ExitWith(42), Halt(), Spin(), TripleFault(), MemoryWriter(16), MmioProber(), LongModeHello(), TwoVcpuWriter(), PortIoLoop(1000),
            BootProtocolGuests.BootSectorHello(), BootProtocolGuests.MultibootInfoReporter(), SerialEcho(), Counter(16),
            DirtyingCounter(16, 16, 1)];

    // The fill loop of the writer guests: ecx dwords from edi get eax, eax + FillStep, ... (edi, eax and ecx advance).
    private static void EmitFillLoop(Iced.Intel.Assembler a)
    {
        var fill = a.CreateLabel();
        a.Label(ref fill);
        a.mov(__dword_ptr[edi], eax);
        a.add(eax, FillStep);
        a.add(edi, 4);
        a.dec(ecx);
        a.jnz(fill);
    }

    // Σ_{k<dwords} (start + k * FillStep) mod 2^32.
    private static uint FilledRegionSum(ulong dwords, uint start) =>
        unchecked((uint)(dwords * start) + FillStep * (uint)(dwords * (dwords - 1) / 2));
}
