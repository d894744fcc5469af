using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Images.Linux;

/// <summary>
/// Where the Linux loader puts what it writes besides the kernel, in the low memory <see cref="GuestLayout"/>
/// leaves free in long mode (the real-mode image window), plus where the PC platform's MP table goes.
/// <code>
///   0x0000_8000 - 0x0000_8fff  boot_params ("zero page"): RSI at the 64-bit entry
///   0x0000_9000 - 0x0000_ffff  kernel command line, zero-terminated
///   0x0009_fc00 - 0x0009_ffff  MP floating pointer and configuration table (in the EBDA, reserved in e820)
///   pref_address (or 1 MiB)    protected-mode kernel, init_size bytes of room
///   below initrd_addr_max      initrd, as high in RAM as it fits, 4 KiB aligned
/// </code>
/// </summary>
public static class LinuxBootLayout
{
    /// <summary>Guest-physical address of boot_params.</summary>
    public const ulong BootParamsAddress = 0x8000;
    /// <summary>Bytes of boot_params.</summary>
    public const int BootParamsSize = 0x1000;
    /// <summary>Guest-physical address of the command line.</summary>
    public const ulong CommandLineAddress = 0x9000;
    /// <summary>One past the last byte the command line (with its zero) may use: the long-mode page tables follow.</summary>
    public const ulong CommandLineLimit = GuestLayout.Pml4Base;
    /// <summary>Where a kernel that is not relocatable is loaded, and the fallback for one that is (1 MiB).</summary>
    public const ulong DefaultKernelAddress = 0x10_0000;
    /// <summary>Where the MP table goes: the start of the EBDA, which Linux scans (639 KiB).</summary>
    public const ulong MpTableAddress = PcMemoryMap.EbdaStart;
}
