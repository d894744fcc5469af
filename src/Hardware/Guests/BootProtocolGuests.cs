using System.Buffers.Binary;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// The guests Actorvisor ships that are booted through a boot protocol rather than copied to a load address: a PC
/// boot sector (<see cref="BootSectorHello"/>) and a multiboot v1 kernel (<see cref="MultibootInfoReporter"/>),
/// assembled with Iced like <see cref="GuestLibrary"/>'s. They prove the protocol's handoff by printing it.
/// </summary>
public static class BootProtocolGuests
{
    /// <summary>What <see cref="BootSectorHello"/> prints when a BIOS-like handoff gave it DL = 0x80 and SP = 0x7c00.</summary>
    public const string BootSectorHelloText = "Hello from a boot sector! dl=00000080 sp=00007c00\n";

    /// <summary>The multiboot header flags of <see cref="MultibootInfoReporter"/>: page-aligned modules, memory information, address fields.</summary>
    public const uint MultibootReporterFlags = MultibootHeader.FlagPageAlignModules | MultibootHeader.FlagMemoryInfo | MultibootHeader.FlagAddresses;

    /// <summary>
    /// A boot sector (512 bytes ending in 55 AA, assembled for 0x7c00, real mode): prints "Hello from a boot sector!
    /// dl=" and "sp=" with the DL and SP it was entered with (8 hex digits each), a newline, and exits with 0.
    /// </summary>
    public static GuestImage BootSectorHello()
    {
        const ulong origin = BootSector.LoadAddress;
        var code = GuestAssembler.Assemble(16, origin, g =>
        {
            g.Asm.mov(di, dx);
            g.Asm.mov(bp, sp);
            g.Asm.cld();
            g.Print("Hello from a boot sector! dl=");
            g.Asm.movzx(eax, di);
            g.Asm.and(eax, 0xff);
            g.PrintHex32();
            g.Print(" sp=");
            g.Asm.movzx(eax, bp);
            g.PrintHex32();
            g.PutChar('\n');
            g.Asm.mov(al, 0);
            g.DebugExitWithAl();
        });
        if (code.Length > BootSector.Size - 2) throw new InvalidOperationException($"the boot sector guest's code is {code.Length} bytes; a sector holds {BootSector.Size - 2}");
        var sector = new byte[BootSector.Size];
        code.CopyTo(sector, 0);
        BootSector.Signature.CopyTo(sector.AsSpan(BootSector.Size - 2));
        return new GuestImage("boot-sector-hello", sector, origin, origin, BootMode.Real, 1,
            "boot sector: entered at 0000:7c00, prints the DL and SP the BIOS-like handoff gave it, exits with 0")
        {
            Format = ImageFormat.BootSector,
            ExpectedConsole = BootSectorHelloText,
            ExpectedResultCode = 0,
        };
    }

    /// <summary>
    /// A multiboot v1 kernel (a.out kludge, loaded at 1 MiB, 32-bit protected mode, its own stack). It checks EAX
    /// holds 0x2BADB002 (else prints "not booted by a multiboot loader" and exits with 1), then prints, from the
    /// information EBX points at, one line each (numbers as 8 hex digits):
    /// <code>
    /// multiboot: flags=F mem_lower=L mem_upper=U
    /// cmdline: TEXT
    /// mods_count=N
    /// module: STRING size=S text: CONTENTS           (per module; its bytes printed as they are)
    /// mmap: base=B length=L type=T                  (per memory map entry; the low 32 bits of base and length)
    /// boot loader: NAME
    /// </code>
    /// and exits with 0. <see cref="ExpectedMultibootReport"/> computes the text for a machine; the image's
    /// <see cref="GuestImage.ExpectedConsole"/> is the text for 32 MiB of RAM (the machine default), no command line and no modules.
    /// </summary>
    public static GuestImage MultibootInfoReporter()
    {
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            var header = new byte[MultibootHeader.SizeWithAddresses];
            void Put(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(at), value);
            Put(0, MultibootHeader.Magic);
            Put(4, MultibootReporterFlags);
            Put(8, unchecked(0u - MultibootHeader.Magic - MultibootReporterFlags));
            Put(12, (uint)origin);                       // header_addr: the header is the first byte
            Put(16, (uint)origin);                       // load_addr
            Put(20, 0);                                  // load_end_addr: the whole file
            Put(24, 0);                                  // bss_end_addr: no bss
            Put(28, (uint)g.AddressOf("mb_entry"));      // entry_addr
            a.db(header);

            g.Mark("mb_entry");
            a.mov(esp, (uint)g.AddressOf("stack_top"));
            a.cld();
            a.cmp(eax, MultibootHeader.BootloaderMagic);
            a.jne(g.L("not_multiboot"));
            a.mov(edi, ebx);

            g.Print("multiboot: flags=");
            a.mov(eax, __dword_ptr[edi + MultibootInfo.FlagsOffset]);
            g.PrintHex32();
            g.Print(" mem_lower=");
            a.mov(eax, __dword_ptr[edi + MultibootInfo.MemLowerOffset]);
            g.PrintHex32();
            g.Print(" mem_upper=");
            a.mov(eax, __dword_ptr[edi + MultibootInfo.MemUpperOffset]);
            g.PrintHex32();
            g.Print("\ncmdline: ");
            a.mov(esi, __dword_ptr[edi + MultibootInfo.CmdlineOffset]);
            g.PrintAtSi();
            g.Print("\nmods_count=");
            a.mov(eax, __dword_ptr[edi + MultibootInfo.ModsCountOffset]);
            g.PrintHex32();
            g.PutChar('\n');

            // Modules: EBP walks the list, the count left is on the stack.
            a.mov(ebp, __dword_ptr[edi + MultibootInfo.ModsAddrOffset]);
            a.push(__dword_ptr[edi + MultibootInfo.ModsCountOffset]);
            g.Mark("module");
            a.cmp(__dword_ptr[esp], 0);
            a.je(g.L("modules_done"));
            g.Print("module: ");
            a.mov(esi, __dword_ptr[ebp + 8]);
            g.PrintAtSi();
            g.Print(" size=");
            a.mov(eax, __dword_ptr[ebp + 4]);
            a.sub(eax, __dword_ptr[ebp]);
            g.PrintHex32();
            g.Print(" text: ");
            a.mov(esi, __dword_ptr[ebp]);
            a.mov(ecx, __dword_ptr[ebp + 4]);
            a.sub(ecx, esi);
            g.Mark("module_byte");
            a.test(ecx, ecx);
            a.jz(g.L("module_text_done"));
            a.lodsb();
            g.PutCharAl();
            a.dec(ecx);
            a.jmp(g.L("module_byte"));
            g.Mark("module_text_done");
            g.PutChar('\n');
            a.add(ebp, MultibootInfo.ModuleEntryBytes);
            a.dec(__dword_ptr[esp]);
            a.jmp(g.L("module"));
            g.Mark("modules_done");
            a.pop(eax);

            // Memory map: EBP walks the entries (each says its size, not counting the size field), the end is on the stack.
            a.mov(ebp, __dword_ptr[edi + MultibootInfo.MmapAddrOffset]);
            a.mov(eax, __dword_ptr[edi + MultibootInfo.MmapLengthOffset]);
            a.add(eax, ebp);
            a.push(eax);
            g.Mark("mmap_entry");
            a.cmp(ebp, __dword_ptr[esp]);
            a.jae(g.L("mmap_done"));
            g.Print("mmap: base=");
            a.mov(eax, __dword_ptr[ebp + 4]);
            g.PrintHex32();
            g.Print(" length=");
            a.mov(eax, __dword_ptr[ebp + 12]);
            g.PrintHex32();
            g.Print(" type=");
            a.mov(eax, __dword_ptr[ebp + 20]);
            g.PrintHex32();
            g.PutChar('\n');
            a.mov(eax, __dword_ptr[ebp]);
            a.lea(ebp, __[ebp + eax + 4]);
            a.jmp(g.L("mmap_entry"));
            g.Mark("mmap_done");
            a.pop(eax);

            g.Print("boot loader: ");
            a.mov(esi, __dword_ptr[edi + MultibootInfo.BootLoaderNameOffset]);
            g.PrintAtSi();
            g.PutChar('\n');
            a.mov(al, 0);
            g.DebugExitWithAl();

            g.Mark("not_multiboot");
            g.Print("not booted by a multiboot loader\n");
            a.mov(al, 1);
            g.DebugExitWithAl();

            a.db(new byte[1024]);
            g.Mark("stack_top");
            a.hlt(); // never reached: gives the label an instruction of its own (the routines follow)
        });
        return new GuestImage("multiboot-info", bytes, origin, origin + MultibootHeader.SizeWithAddresses, BootMode.Protected, 1,
            "multiboot kernel: prints the multiboot information it was given (memory, command line, modules, memory map) and exits with 0")
        {
            Format = ImageFormat.Multiboot,
            ExpectedConsole = ExpectedMultibootReport(32UL << 20, "", []),
            ExpectedResultCode = 0,
        };
    }

    /// <summary>
    /// What <see cref="MultibootInfoReporter"/> prints in <paramref name="ramBytes"/> of RAM with <paramref name="commandLine"/>
    /// and modules given as (string, contents), from the multiboot specification's meaning of each field (independent of
    /// the loader's code): mem_lower 639 KiB (conventional memory below the EBDA), mem_upper the KiB above 1 MiB.
    /// </summary>
    public static string ExpectedMultibootReport(ulong ramBytes, string commandLine, IReadOnlyList<(string CommandLine, string Contents)> modules)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"multiboot: flags={0x24d:x8} mem_lower={639:x8} mem_upper={(ramBytes - 0x100000) / 1024:x8}\n");
        sb.Append($"cmdline: {commandLine}\nmods_count={modules.Count:x8}\n");
        foreach (var (line, contents) in modules) sb.Append($"module: {line} size={contents.Length:x8} text: {contents}\n");
        sb.Append($"mmap: base={0:x8} length={0x9fc00:x8} type={1:x8}\n");
        sb.Append($"mmap: base={0x9fc00:x8} length={0x60400:x8} type={2:x8}\n");
        sb.Append($"mmap: base={0x100000:x8} length={(uint)(ramBytes - 0x100000):x8} type={1:x8}\n");
        sb.Append($"mmap: base={0xc0000000:x8} length={0x40000000:x8} type={2:x8}\n");
        sb.Append("boot loader: Actorvisor\n");
        return sb.ToString();
    }
}
