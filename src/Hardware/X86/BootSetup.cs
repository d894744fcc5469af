using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Memory;

namespace Actorvisor.Hardware.X86;

/// <summary>
/// Puts guest memory and vCPUs into the state a guest image expects at its first instruction, in the
/// given <see cref="BootMode"/>, following <see cref="GuestLayout"/>: the GDT and (long mode) identity page
/// tables in low memory, and per vCPU the segment, control and general-purpose registers.
/// Use: <see cref="WriteTables"/> once per VM after loading the image, then <see cref="Apply"/> per vCPU.
/// </summary>
public sealed class BootSetup
{
    // Page-table entry bits (Intel SDM vol. 3, 4.5): present, writable, page size (2 MiB leaf in a PD).
    private const ulong PtePresent = 1, PteWritable = 2, PtePageSize = 0x80;
    private const ulong Cr0CacheDisable = 1UL << 30, Cr0NotWriteThrough = 1UL << 29;
    private const ulong GiB = 1UL << 30, TwoMiB = 2UL << 20;

    /// <summary>Validates and records the boot parameters.</summary>
    /// <param name="mode">The CPU mode at entry.</param>
    /// <param name="entry">The first instruction's address.</param>
    /// <param name="vcpuCount">Number of vCPUs.</param>
    /// <param name="handoff">Registers the image's boot protocol sets at entry (null: none).</param>
    /// <exception cref="ArgumentOutOfRangeException">the entry is unreachable in <paramref name="mode"/>, the vCPU count is out of
    /// range, or the handoff's stack has no room for every vCPU's stack.</exception>
    public BootSetup(BootMode mode, ulong entry, int vcpuCount = 1, BootHandoff? handoff = null)
    {
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown boot mode");
        if (vcpuCount < 1 || vcpuCount > GuestLayout.MaxVcpus)
            throw new ArgumentOutOfRangeException(nameof(vcpuCount), vcpuCount, $"vCPU count must be 1..{GuestLayout.MaxVcpus} (one boot stack each)");
        if (mode == BootMode.Real && entry > 0xffff)
            throw new ArgumentOutOfRangeException(nameof(entry), $"entry 0x{entry:x} is not reachable in real mode (CS=0, IP has 16 bits)");
        if (mode == BootMode.Protected && entry > 0xffff_ffff)
            throw new ArgumentOutOfRangeException(nameof(entry), $"entry 0x{entry:x} is not reachable in 32-bit protected mode");
        if (mode == BootMode.Long && !IsCanonical(entry))
            throw new ArgumentOutOfRangeException(nameof(entry), $"entry 0x{entry:x} is not a canonical 64-bit address");
        if (handoff?.StackTop is { } top)
        {
            ulong needed = (ulong)vcpuCount * GuestLayout.BootStackSize;
            if (top < needed)
                throw new ArgumentOutOfRangeException(nameof(handoff), $"a stack top of 0x{top:x} leaves no room below it for {vcpuCount} boot stack(s) of 0x{GuestLayout.BootStackSize:x} bytes");
            if (mode == BootMode.Real && top > 0xfffe)
                throw new ArgumentOutOfRangeException(nameof(handoff), $"a stack top of 0x{top:x} is not reachable in real mode (SS=0, SP has 16 bits)");
        }
        Mode = mode;
        Entry = entry;
        VcpuCount = vcpuCount;
        Handoff = handoff ?? new BootHandoff();
    }

    /// <summary>The CPU mode at entry.</summary>
    public BootMode Mode { get; }

    /// <summary>The first instruction's address (RIP; real mode: IP with CS=0).</summary>
    public ulong Entry { get; }

    /// <summary>Number of vCPUs of the VM (given to each in RSI).</summary>
    public int VcpuCount { get; }

    /// <summary>The registers the image's boot protocol sets at entry (all null when it sets none).</summary>
    public BootHandoff Handoff { get; }

    /// <summary>
    /// Number of page directories (GiB of identity mapping) long mode needs for <paramref name="ramBytes"/>
    /// of RAM: all RAM, and at least the low 4 GiB so the MMIO window is mapped too.
    /// </summary>
    public static int PageDirectoriesFor(ulong ramBytes)
    {
        ulong mapped = Math.Max(ramBytes, GuestLayout.MinIdentityMappedBytes);
        ulong dirs = (mapped + GiB - 1) / GiB;
        if (dirs > GuestLayout.MaxPageDirectories)
            throw new ArgumentOutOfRangeException(nameof(ramBytes), $"0x{ramBytes:x} bytes of RAM need {dirs} page directories; the layout has room for {GuestLayout.MaxPageDirectories} (64 GiB)");
        return (int)dirs;
    }

    /// <summary>
    /// Writes the boot structures for <see cref="Mode"/> into guest RAM (<paramref name="ram"/> backs guest-physical
    /// address 0 upwards): nothing for real mode; the GDT and TSS for protected mode; GDT, TSS and identity
    /// page tables for long mode.
    /// </summary>
    /// <exception cref="ArgumentException">RAM is too small for the layout.</exception>
    public void WriteTables(HostMemory ram)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ulong needed = Mode == BootMode.Long ? GuestLayout.PageTablesEnd : GuestLayout.BootStacksTop;
        if (ram.Size < needed)
            throw new ArgumentException($"guest RAM of 0x{ram.Size:x} bytes is too small for {Mode} mode boot structures (need at least 0x{needed:x})", nameof(ram));
        if (Mode == BootMode.Real) return;

        ram.Span(GuestLayout.GdtBase, 0x1000).Clear();
        ram.Write(GuestLayout.GdtBase, BootGdt.Build());
        if (Mode != BootMode.Long) return;

        int dirs = PageDirectoriesFor(ram.Size);
        ram.Span(GuestLayout.Pml4Base, (int)(GuestLayout.PageTablesEnd - GuestLayout.Pml4Base)).Clear();
        ram.Write(GuestLayout.Pml4Base, GuestLayout.PdptBase | PtePresent | PteWritable);
        for (int i = 0; i < dirs; i++)
        {
            ulong pd = GuestLayout.PageDirectoriesBase + (ulong)i * 0x1000;
            ram.Write(GuestLayout.PdptBase + (ulong)i * 8, pd | PtePresent | PteWritable);
            for (ulong j = 0; j < 512; j++)
                ram.Write(pd + j * 8, ((ulong)i * GiB + j * TwoMiB) | PtePresent | PteWritable | PtePageSize);
        }
    }

    /// <summary>
    /// The special registers for <see cref="Mode"/>, starting from <paramref name="current"/> (the vCPU's reset
    /// state, so fields this method does not own, such as the APIC base, keep their values).
    /// </summary>
    public SpecialRegisters SpecialRegistersFor(SpecialRegisters current)
    {
        ArgumentNullException.ThrowIfNull(current);
        switch (Mode)
        {
            case BootMode.Real:
            {
                var data = Segment.RealMode(0, code: false);
                return current with
                {
                    Cs = Segment.RealMode(0, code: true), Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
                    Idt = new DescriptorTable(GuestLayout.IvtBase, 0x3ff),
                    Cr0 = (current.Cr0 | ControlBits.Cr0Et) & ~(ControlBits.Cr0Pe | ControlBits.Cr0Pg),
                    Cr3 = 0, Cr4 = 0, Efer = 0,
                };
            }
            case BootMode.Protected:
            {
                var data = BootGdt.Data;
                return current with
                {
                    Cs = BootGdt.Code32, Ds = data, Es = data, Fs = data, Gs = data, Ss = data, Tr = BootGdt.Tss,
                    Gdt = new DescriptorTable(GuestLayout.GdtBase, BootGdt.Limit),
                    Idt = new DescriptorTable(0, 0),
                    Cr0 = (current.Cr0 | ControlBits.Cr0Pe | ControlBits.Cr0Et) & ~(ControlBits.Cr0Pg | Cr0CacheDisable | Cr0NotWriteThrough),
                    Cr3 = 0, Cr4 = 0, Efer = 0,
                };
            }
            default:
            {
                var data = BootGdt.Data;
                return current with
                {
                    Cs = BootGdt.Code64, Ds = data, Es = data, Fs = data, Gs = data, Ss = data, Tr = BootGdt.Tss,
                    Gdt = new DescriptorTable(GuestLayout.GdtBase, BootGdt.Limit),
                    Idt = new DescriptorTable(0, 0),
                    Cr0 = (current.Cr0 | ControlBits.Cr0Pe | ControlBits.Cr0Et | ControlBits.Cr0Pg) & ~(Cr0CacheDisable | Cr0NotWriteThrough),
                    Cr3 = GuestLayout.Pml4Base,
                    Cr4 = ControlBits.Cr4Pae,
                    Efer = ControlBits.EferLme | ControlBits.EferLma,
                };
            }
        }
    }

    /// <summary>
    /// The general-purpose registers of vCPU <paramref name="vcpuId"/> at entry: RIP = entry, RSP = its boot stack
    /// top (<see cref="BootHandoff.StackTop"/> if given, minus one stack per lower vCPU), RDI = its index and RSI = the
    /// vCPU count (or RDI = 0 and RSI as the handoff says), RAX, RBX and RDX as the <see cref="Handoff"/> says, RFLAGS = 2, everything else zero.
    /// </summary>
    public Registers RegistersFor(int vcpuId)
    {
        if ((uint)vcpuId >= (uint)VcpuCount)
            throw new ArgumentOutOfRangeException(nameof(vcpuId), vcpuId, $"vCPU index must be 0..{VcpuCount - 1}");
        return new Registers
        {
            Rip = Entry,
            Rsp = Handoff.StackTop is { } top ? top - (ulong)vcpuId * GuestLayout.BootStackSize : GuestLayout.BootStackTop(vcpuId),
            Rax = Handoff.Rax ?? 0,
            Rbx = Handoff.Rbx ?? 0,
            Rdx = Handoff.Rdx ?? 0,
            Rdi = Handoff.Rsi is null ? (ulong)vcpuId : 0,
            Rsi = Handoff.Rsi ?? (ulong)VcpuCount,
            Rflags = Registers.ResetRflags,
        };
    }

    /// <summary>
    /// Sets <paramref name="vcpu"/>'s registers for entry: special registers first, then the general-purpose
    /// ones: the mode first, then the registers that live in it (the order Firecracker and kvmtool use).
    /// </summary>
    public void Apply(IVirtualCpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var regs = RegistersFor(vcpu.Id);
        vcpu.SetSpecialRegisters(SpecialRegistersFor(vcpu.GetSpecialRegisters()));
        vcpu.SetRegisters(regs);
    }

    private static bool IsCanonical(ulong address)
    {
        ulong top = address >> 47;
        return top == 0 || top == 0x1ffff;
    }
}
