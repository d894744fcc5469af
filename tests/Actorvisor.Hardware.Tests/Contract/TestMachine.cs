using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;
using Iced.Intel;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>
/// A VM with one RAM slot at guest-physical 0 and vCPU 0, plus the register set-up for real mode,
/// 32-bit protected mode (flat GDT) and 64-bit long mode (identity-mapped 4 GiB with 2 MiB pages),
/// written the way a VMM sets KVM state: special registers, then registers.
/// </summary>
public sealed class TestMachine : IDisposable
{
    /// <summary>Where code is loaded by default.</summary>
    public const ulong CodeAddress = 0x1000;
    /// <summary>GDT: null, 0x08 32-bit code, 0x10 data, 0x18 64-bit code.</summary>
    public const ulong GdtAddress = 0x800;
    /// <summary>PML4 at 0x10000, PDPT at 0x11000, four page directories at 0x12000..0x15fff.</summary>
    public const ulong PageTables = 0x10000;
    /// <summary>A guest-physical address with no RAM (MMIO), reachable from 32- and 64-bit code.</summary>
    public const ulong MmioAddress = 0xD000_0000;

    private readonly List<HostMemory> _extraMemory = [];

    public TestMachine(IAccelerator accelerator, ulong ramSize = 0x20_0000)
    {
        Vm = accelerator.CreateVm();
        Ram = HostMemory.Allocate(ramSize);
        Vm.SetMemoryRegion(Memslot.For(0, 0, Ram));
        Cpu = Vm.CreateVcpu(0);
    }

    public IVirtualMachine Vm { get; }
    public HostMemory Ram { get; }
    public IVirtualCpu Cpu { get; }

    /// <summary>Allocates host memory that is freed with the machine.</summary>
    public HostMemory AllocateExtra(ulong size)
    {
        var m = HostMemory.Allocate(size);
        _extraMemory.Add(m);
        return m;
    }

    /// <summary>Assembles code at <paramref name="address"/> into RAM; returns the address after it.</summary>
    public ulong Load(int bitness, Action<Assembler> build, ulong address = CodeAddress)
    {
        var code = GuestCode.Assemble(bitness, address, build);
        Ram.Write(address, code);
        return address + (ulong)code.Length;
    }

    /// <summary>Real mode at CS:IP = <paramref name="cs"/>:<paramref name="ip"/>, no IDT (IDTR limit 0).</summary>
    public void EnterRealMode(ulong ip, ushort cs = 0)
    {
        var data = Segment.RealMode(0, code: false);
        Cpu.SetSpecialRegisters(new SpecialRegisters
        {
            Cs = Segment.RealMode(cs, code: true), Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
            Tr = new Segment { Limit = 0xFFFF, Type = 0xB, Present = true },
            Ldt = new Segment { Limit = 0xFFFF, Type = 2, Present = true },
            Gdt = new DescriptorTable(0, 0xFFFF), Idt = new DescriptorTable(0, 0),
            Cr0 = ControlBits.Cr0Et,
        });
        Cpu.SetRegisters(new Registers { Rip = ip, Rflags = Registers.ResetRflags, Rsp = 0x8000 });
    }

    /// <summary>The special registers of flat 32-bit protected mode with the GDT at <see cref="GdtAddress"/>.</summary>
    public SpecialRegisters ProtectedModeSregs()
    {
        WriteGdt();
        var data = FlatData();
        return new SpecialRegisters
        {
            Cs = new Segment { Selector = 0x08, Base = 0, Limit = 0xFFFF_FFFF, Type = 0xB, Present = true, S = true, Db = true, G = true },
            Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
            Tr = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = true },
            Ldt = new Segment { Unusable = true },
            Gdt = new DescriptorTable(GdtAddress, 4 * 8 - 1), Idt = new DescriptorTable(0, 0),
            Cr0 = ControlBits.Cr0Pe | ControlBits.Cr0Et,
        };
    }

    /// <summary>Flat 32-bit protected mode at <paramref name="eip"/>, no IDT.</summary>
    public void EnterProtectedMode(ulong eip)
    {
        Cpu.SetSpecialRegisters(ProtectedModeSregs());
        Cpu.SetRegisters(new Registers { Rip = eip, Rflags = Registers.ResetRflags, Rsp = 0x8000 });
    }

    /// <summary>64-bit long mode at <paramref name="rip"/> with the first 4 GiB identity-mapped, no IDT.</summary>
    public void EnterLongMode(ulong rip)
    {
        WriteIdentityPageTables();
        var sregs = ProtectedModeSregs() with
        {
            Cs = new Segment { Selector = 0x18, Base = 0, Limit = 0xFFFF_FFFF, Type = 0xB, Present = true, S = true, L = true, G = true },
            Cr0 = ControlBits.Cr0Pe | ControlBits.Cr0Et | ControlBits.Cr0Pg,
            Cr3 = PageTables,
            Cr4 = ControlBits.Cr4Pae,
            Efer = ControlBits.EferLme | ControlBits.EferLma,
        };
        Cpu.SetSpecialRegisters(sregs);
        Cpu.SetRegisters(new Registers { Rip = rip, Rflags = Registers.ResetRflags, Rsp = 0x8000 });
    }

    private static Segment FlatData() =>
        new() { Selector = 0x10, Base = 0, Limit = 0xFFFF_FFFF, Type = 0x3, Present = true, S = true, Db = true, G = true };

    private void WriteGdt()
    {
        Ram.Write<ulong>(GdtAddress, 0);
        Ram.Write<ulong>(GdtAddress + 0x08, 0x00CF_9B00_0000_FFFF); // 32-bit code, accessed
        Ram.Write<ulong>(GdtAddress + 0x10, 0x00CF_9300_0000_FFFF); // data, accessed
        Ram.Write<ulong>(GdtAddress + 0x18, 0x00AF_9B00_0000_FFFF); // 64-bit code, accessed
    }

    private void WriteIdentityPageTables()
    {
        const ulong presentWritable = 0x3, largePage = 0x80;
        Ram.Write(PageTables, PageTables + 0x1000 | presentWritable);
        for (ulong gib = 0; gib < 4; gib++)
        {
            ulong pd = PageTables + 0x2000 + gib * 0x1000;
            Ram.Write(PageTables + 0x1000 + gib * 8, pd | presentWritable);
            for (ulong i = 0; i < 512; i++)
                Ram.Write(pd + i * 8, (gib << 30) + (i << 21) | presentWritable | largePage);
        }
    }

    public void Dispose()
    {
        Vm.Dispose();
        Ram.Dispose();
        foreach (var m in _extraMemory) m.Dispose();
    }
}
