namespace Actorvisor.Hardware.X86;

/// <summary>
/// The fixed guest-physical memory layout Actorvisor sets up before a guest runs. Guest RAM is one range
/// starting at 0 (memslot 0); addresses from <see cref="MmioWindowBase"/> to 4 GiB are reserved for devices,
/// like the PCI hole of a PC, so RAM is at most <see cref="MaxRamBytes"/>.
/// <code>
///   0x0000_0000 - 0x0000_0fff  real-mode IVT and BIOS data area: left zero (real mode: the guest's, from 0x500 up
///                              for images; the stack sits below the image, e.g. SP = 0x7c00 for a boot sector)
///   0x0000_1000 - 0x0000_1fff  GDT (protected and long mode) + a dummy TSS at 0x1080
///   0x0000_2000 - 0x0000_7fff  boot stacks, 1 KiB per vCPU: vCPU n starts with SP = 0x8000 - n * 0x400
///   0x0000_7c00 - 0x0000_7dff  (real mode) a boot sector's default load address and entry
///   0x0000_8000 - 0x0000_ffff  real-mode image window: default load address and entry 0x8000; in protected mode the
///                              multiboot information structure (MultibootInfo) when the kernel leaves it free
///   0x0001_0000 - 0x0001_0fff  long mode PML4
///   0x0001_1000 - 0x0001_1fff  long mode PDPT
///   0x0001_2000 - 0x0005_1fff  long mode page directories (one per GiB mapped, at most 64)
///   0x0010_0000 -              default load address and entry of protected/long-mode images (1 MiB)
///   0x0020_0000 -              DataBase: where library guests put the memory they work on (2 MiB)
///   0xc000_0000 - 0xffff_ffff  MMIO window (no RAM); GuestLibrary's probe registers sit at 0xd000_0000
/// </code>
/// At entry every vCPU has RDI = its vCPU index, RSI = the number of vCPUs, RSP = its boot stack top, all
/// other general-purpose registers zero and RFLAGS = 2 (interrupts off). There is no IDT in protected or
/// long mode (IDTR limit 0): any exception escalates to a triple fault, which the accelerator reports as
/// a shutdown exit.
/// </summary>
public static class GuestLayout
{
    /// <summary>Base of the real-mode interrupt vector table (the real-mode IDTR points here).</summary>
    public const ulong IvtBase = 0x0;

    /// <summary>Guest-physical address of the GDT BootSetup writes.</summary>
    public const ulong GdtBase = 0x1000;

    /// <summary>Guest-physical address of the (unused) 104-byte TSS the task register points at.</summary>
    public const ulong TssBase = 0x1080;

    /// <summary>Size of a 32-bit TSS minus one: the TR limit.</summary>
    public const uint TssLimit = 0x67;

    /// <summary>Lowest address of the boot stack region.</summary>
    public const ulong BootStacksBase = 0x2000;

    /// <summary>One past the highest address of the boot stack region: vCPU 0's initial stack pointer.</summary>
    public const ulong BootStacksTop = 0x8000;

    /// <summary>Bytes of boot stack per vCPU.</summary>
    public const ulong BootStackSize = 0x400;

    /// <summary>Most vCPUs the boot stack region has room for.</summary>
    public const int MaxVcpus = (int)((BootStacksTop - BootStacksBase) / BootStackSize);

    /// <summary>Default load address and entry of real-mode images.</summary>
    public const ulong RealModeImageBase = 0x8000;

    /// <summary>One past the last byte a real-mode image may occupy (CS=0 and a 16-bit IP reach 64 KiB).</summary>
    public const ulong RealModeImageEnd = 0x10000;

    /// <summary>Long mode: the PML4 (CR3).</summary>
    public const ulong Pml4Base = 0x10000;

    /// <summary>Long mode: the one PDPT (PML4 entry 0, covering 512 GiB).</summary>
    public const ulong PdptBase = 0x11000;

    /// <summary>Long mode: the first page directory; directory i maps GiB i with 2 MiB pages.</summary>
    public const ulong PageDirectoriesBase = 0x12000;

    /// <summary>Most page directories the page-table region holds (so at most 64 GiB is mapped).</summary>
    public const int MaxPageDirectories = 64;

    /// <summary>One past the page-table region.</summary>
    public const ulong PageTablesEnd = PageDirectoriesBase + MaxPageDirectories * 0x1000UL;

    /// <summary>The low 4 GiB are always mapped in long mode, so the MMIO window is reachable.</summary>
    public const ulong MinIdentityMappedBytes = 4UL << 30;

    /// <summary>Default load address and entry of protected and long-mode images.</summary>
    public const ulong ImageBase = 0x10_0000;

    /// <summary>Start of the memory library guests fill and check.</summary>
    public const ulong DataBase = 0x20_0000;

    /// <summary>Start of the MMIO window: no RAM from here to 4 GiB.</summary>
    public const ulong MmioWindowBase = 0xC000_0000;

    /// <summary>One past the MMIO window.</summary>
    public const ulong MmioWindowEnd = 0x1_0000_0000;

    /// <summary>Most guest RAM: everything below the MMIO window.</summary>
    public const ulong MaxRamBytes = MmioWindowBase;

    /// <summary>Least guest RAM: the boot structures plus the default image address.</summary>
    public const ulong MinRamBytes = 0x10_0000;

    /// <summary>The initial stack pointer of vCPU <paramref name="vcpuId"/>.</summary>
    public static ulong BootStackTop(int vcpuId)
    {
        if ((uint)vcpuId >= MaxVcpus) throw new ArgumentOutOfRangeException(nameof(vcpuId), vcpuId, $"vCPU index must be 0..{MaxVcpus - 1}");
        return BootStacksTop - (ulong)vcpuId * BootStackSize;
    }

    /// <summary>Where an image for <paramref name="mode"/> is loaded and entered unless told otherwise.</summary>
    public static ulong DefaultLoadAddress(BootMode mode) => mode == BootMode.Real ? RealModeImageBase : ImageBase;

    /// <summary>
    /// The guest-physical ranges BootSetup writes or uses for <paramref name="mode"/> (GDT and boot stacks in
    /// protected and long mode; page tables in long mode): an image must not be loaded over them. Real mode
    /// reserves nothing: the IVT and BIOS data area are the guest's, and its stack sits below the image
    /// (<see cref="RealModeStackTop"/>), so any real-mode image may be loaded from <see cref="RealModeLowestLoad"/> up.
    /// </summary>
    public static IReadOnlyList<(ulong Start, ulong End, string What)> ReservedRanges(BootMode mode) => mode switch
    {
        BootMode.Real => [],
        BootMode.Long => [(IvtBase, RealModeImageBase, "the IVT, GDT and boot stacks"), (Pml4Base, PageTablesEnd, "the long-mode page tables")],
        _ => [(IvtBase, RealModeImageBase, "the IVT, GDT and boot stacks")],
    };

    /// <summary>The lowest address a real-mode image is expected at: just above the IVT and the BIOS data area, as on a PC.</summary>
    public const ulong RealModeLowestLoad = 0x500;

    /// <summary>
    /// vCPU 0's stack pointer in real mode for an image whose lowest byte is at <paramref name="imageLowestAddress"/>:
    /// just below the image (16-byte aligned) if it starts below <see cref="BootStacksTop"/>, else <see cref="BootStacksTop"/>
    /// as in the other modes. A boot sector at 0x7c00 so gets SP = 0x7c00, as a PC BIOS hands over.
    /// </summary>
    public static ulong RealModeStackTop(ulong imageLowestAddress) => Math.Min(imageLowestAddress & ~0xfUL, BootStacksTop);
}
